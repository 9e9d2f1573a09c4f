"""The classic hashing baselines the model card compares with: LSH (random hyperplanes), Gong &
Lazebnik's ITQ, and CCA for a common space of two modalities (CCA-ITQ). Each fit returns a function
from features to bool codes."""
import numpy as np


def fit_itq(train_x, bits, iterations=50, seed=0):
    """Gong & Lazebnik's ITQ: PCA to `bits` dimensions, then the rotation that best fits the binary
    corners. Returns (mean, the principal directions [D, r] for r up to the rank, the rotation
    [bits, bits]): a code is ((x - mean) @ directions[:, :bits] @ rotation) >= 0."""
    mean = train_x.mean(0)
    centred = train_x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    v = centred @ vt[:bits].T
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((bits, bits)))
    for _ in range(iterations):
        b = np.sign(v @ rotation)
        u, _, wt = np.linalg.svd(b.T @ v)
        rotation = (u @ wt).T
    return mean, vt.T, rotation


def itq(train_x, bits, iterations=50, seed=0):
    mean, directions, rotation = fit_itq(train_x, bits, iterations, seed)
    return lambda x: ((x - mean) @ directions[:, :bits] @ rotation) >= 0


def lsh(train_x, bits, seed=0):
    mean = train_x.mean(0)
    planes = np.random.default_rng(seed).standard_normal((train_x.shape[1], bits))
    return lambda x: ((x - mean) @ planes) >= 0


def cca(x, y, dims, ridge=1e-3):
    """Hotelling's canonical correlation analysis of the paired rows of x and y, each side's covariance
    regularised by `ridge` times its mean variance: the maps of x and of y onto their first `dims`
    canonical directions, one common space."""
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc, yc = x - mean_x, y - mean_y

    def inverse_sqrt(c):
        values, vectors = np.linalg.eigh(c + ridge * np.trace(c) / len(c) * np.eye(len(c)))
        return (vectors / np.sqrt(values)) @ vectors.T

    wx, wy = inverse_sqrt(xc.T @ xc / len(x)), inverse_sqrt(yc.T @ yc / len(y))
    u, _, vt = np.linalg.svd(wx @ (xc.T @ yc / len(x)) @ wy)
    px, py = wx @ u[:, :dims], wy @ vt[:dims].T
    return (lambda a: (a - mean_x) @ px), (lambda b: (b - mean_y) @ py)
