"""The deep-hash network and its losses.

Three towers meet in one latent space and one hash layer:
  image CNN                      ─┐
  text: LSTM or frozen MiniLM    ─┼─> latent (L2-normalised, the re-rank embedding) -> sigmoid hash layer (k bits, 0.5)
  fusion MLP                     ─┘                                    └─> subgroup classifier
The hash layer is Lin et al.'s latent sigmoid layer binarised at 0.5; the classifier sits on its
activations. Codes of the three towers share the hash layer, so an image code, a caption code and a
fused code live in one Hamming space (cross-modal search, as in DCMH).

Preprocessing and tokenisation, the contract the Java runtime reproduces, are in inputs.py.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from inputs import PAD

LATENT = 256


# ---------------------------------------------------------------- the network

def conv_block(cin, cout, stride=1):
    layers = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    if stride == 1:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ImageTower(nn.Module):
    """A small CNN sized for two CPU cores: a strided stem 64 -> 32, then three conv+pool blocks to 4x4,
    then global average and max pooling. With `pretrained`, the frozen features of a network converted
    from nsfwjs (backbones.py; MobileNetV2 unless told) beside it, or instead of it."""

    def __init__(self, width=32, pretrained=False):
        super().__init__()
        # pretrained: {"backbone": one of backbones.BACKBONES (default mobilenet_v2), "layer": a Keras layer
        # name or a list of them, "size": the input side in pixels, "cnn": whether the small CNN runs beside it
        # (default true), "finetune": as in BackboneFeatures};
        # True (older runs): the defaults.
        options = dict(pretrained) if isinstance(pretrained, dict) else {}
        cnn = options.pop("cnn", True)
        # "fused_frozen": with "finetune", a second, wholly frozen copy of the backbone for the fused
        # tower (see `frozen_features`).
        fused_frozen = options.pop("fused_frozen", False)
        # "fused_size": with "fused_frozen", the side the frozen copy reads the pictures at (default: "size").
        fused_size = options.pop("fused_size", None)
        # "fused_backbone", "fused_layer": with "fused_frozen", another backbone and its feature layers for
        # the frozen copy (default: the image tower's).
        fused_backbone = options.pop("fused_backbone", None)
        fused_layer = options.pop("fused_layer", None)
        # Dropout on the frozen features while training (they are many and the pictures few).
        self.dropout = nn.Dropout(options.pop("dropout", 0.0))
        self.features = nn.Sequential(
            conv_block(3, width, stride=2), conv_block(width, 2 * width), conv_block(2 * width, 4 * width),
            conv_block(4 * width, 8 * width),
        ) if cnn else None
        self.out_dim = 16 * width if cnn else 0
        self.pretrained = None
        if pretrained:
            from backbones import BackboneFeatures

            self.pretrained = BackboneFeatures(**options)
            self.out_dim += self.pretrained.out_dim
        # Without the CNN, the frozen features are standardised (their scales differ by orders of magnitude).
        self.norm = nn.BatchNorm1d(self.pretrained.out_dim, affine=False) if pretrained and not cnn else None
        self.frozen = None
        if fused_frozen:
            if cnn or not options.get("finetune"):
                raise ValueError("fused_frozen needs the backbone alone (cnn false) and finetune")
            from backbones import BackboneFeatures

            # The same backbone as the image tower's, with nothing of it trained.
            frozen_options = {k: v for k, v in options.items() if k != "finetune"}
            if fused_size:
                frozen_options["size"] = fused_size
            if fused_backbone:
                frozen_options["backbone"] = fused_backbone
            if fused_layer:
                frozen_options["layer"] = fused_layer
            self.frozen = BackboneFeatures(**frozen_options)
            self.frozen_norm = nn.BatchNorm1d(self.frozen.out_dim, affine=False)

    def forward(self, x, pretrained_features=None):
        """pretrained_features: the frozen backbone's output for x, when the caller has it cached."""
        parts = []
        if self.features is not None:
            h = self.features(x)
            parts += [h.mean(dim=(2, 3)), h.amax(dim=(2, 3))]
        if self.pretrained is not None:
            if isinstance(pretrained_features, tuple):  # with finetune: (frozen features, the cut layer's output)
                pretrained_features = self.pretrained.pooled_from(*pretrained_features)
            elif pretrained_features is None and self.training and self.pretrained.finetune:
                pretrained_features = self.pretrained.pooled_from(*self.pretrained.cached(x))
            elif pretrained_features is None:
                with torch.no_grad():
                    pretrained_features = self.pretrained(x)
            if self.norm is not None:
                pretrained_features = self.norm(pretrained_features)
            parts.append(self.dropout(pretrained_features))
        return torch.cat(parts, dim=1)

    def frozen_features(self, x, cached=None):
        """The frozen copy's standardised features of x (`cached`: its output for x, when the caller has
        it). Fine-tuning the backbone fits the training emoji's pictures better and lifts the
        single-modality codes, but a fused tower over the tuned features leans on the picture and loses
        on unseen emoji (model/README.md, "What was tried"); the fused tower reads these instead."""
        if cached is None:
            with torch.no_grad():
                cached = self.frozen(x)
        return self.dropout(self.frozen_norm(cached))


class TextTower(nn.Module):
    """The seed's text encoder: a bidirectional LSTM over word embeddings, masked mean and max pooling."""

    def __init__(self, vocab_size, dim=128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.out_dim = 4 * dim

    def forward(self, tokens):
        mask = (tokens != PAD).unsqueeze(-1).float()
        h, _ = self.lstm(self.embed(tokens))
        # Padding sits after the words; the backward direction starts in it, so mask both poolings.
        mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        maxed = (h * mask + (mask - 1.0) * 1e4).amax(1)
        return torch.cat([mean, maxed], dim=1)


class SentenceTower(nn.Module):
    """The other text encoder: the frozen MiniLM sentence embedding (computed by the Java runtime with
    ONNX Runtime, see MiniLmEncoder) passed through; the trainable head is the projection after it."""

    out_dim = 384

    def forward(self, embedding):
        return embedding


def projection(din):
    return nn.Sequential(nn.Dropout(0.2), nn.Linear(din, LATENT), nn.BatchNorm1d(LATENT), nn.ReLU(inplace=True), nn.Linear(LATENT, LATENT))


class DeepHash(nn.Module):
    def __init__(self, vocab_size, bits, classes, modalities=("image", "text", "fused"), text_encoder="lstm", pretrained_image=False,
                 fusion="features"):
        """fusion: what the fused tower projects, the two backbones' features side by side ("features")
        or the image and text towers' latents ("latents", which keeps a wide image backbone from
        drowning the caption)."""
        super().__init__()
        self.fusion = fusion
        self.bits = bits
        self.modalities = modalities
        self.text_encoder = text_encoder
        if "image" in modalities or "fused" in modalities:
            self.image = ImageTower(pretrained=pretrained_image)
            self.image_proj = projection(self.image.out_dim)
        if "text" in modalities or "fused" in modalities:
            self.text = TextTower(vocab_size) if text_encoder == "lstm" else SentenceTower()
            self.text_proj = projection(self.text.out_dim)
        if "fused" in modalities:
            self.fuse = projection(self.image.out_dim + self.text.out_dim if fusion == "features" else 2 * LATENT)
            if self.image.frozen is not None:
                if fusion != "latents":
                    raise ValueError("a frozen backbone for the fused tower needs fusion 'latents'")
                # The fused tower's own projection of the frozen copy's features.
                self.fused_image_proj = projection(self.image.frozen.out_dim)
        self.hash = nn.Linear(LATENT, bits)
        self.classify = nn.Linear(bits, classes)

    def head(self, latent):
        """latent -> (sigmoid activations, L2-normalised embedding)."""
        return torch.sigmoid(self.hash(latent)), F.normalize(latent, dim=1)

    def encode_image(self, image):
        return self.head(self.image_proj(self.image(image)))

    def encode_text(self, tokens):
        return self.head(self.text_proj(self.text(tokens)))

    def fused_latent(self, fi, ft):
        """The fused tower's latent from the image and text backbones' features (with a frozen copy of
        the image backbone for it, fi is that copy's features)."""
        if self.fusion == "features":
            return self.fuse(torch.cat([fi, ft], dim=1))
        image_proj = self.fused_image_proj if hasattr(self, "fused_image_proj") else self.image_proj
        return self.fuse(torch.cat([image_proj(fi), self.text_proj(ft)], dim=1))

    def fused_image_features(self, image, fi=None, frozen_features=None):
        """What the fused tower reads of the picture: the frozen copy's features when there is one, else
        the image tower's (`fi`, when already computed)."""
        if self.image.frozen is not None:
            return self.image.frozen_features(image, frozen_features)
        return self.image(image) if fi is None else fi

    def encode_fused(self, image, tokens):
        return self.head(self.fused_latent(self.fused_image_features(image), self.text(tokens)))

    def encode_all(self, image, tokens, pretrained_features=None, frozen_features=None):
        """One pass of both backbones for the three codes of a batch of (picture, caption) pairs;
        `frozen_features`: the frozen copy's cached output, where there is one."""
        out = {}
        fi = self.image(image, pretrained_features) if hasattr(self, "image") else None
        ft = self.text(tokens) if hasattr(self, "text") else None
        if "image" in self.modalities:
            out["image"] = self.head(self.image_proj(fi))
        if "text" in self.modalities:
            out["text"] = self.head(self.text_proj(ft))
        if "fused" in self.modalities:
            out["fused"] = self.head(self.fused_latent(self.fused_image_features(image, fi, frozen_features), ft))
        return out


class EntryPoint(nn.Module):
    """One exported graph: (inputs) -> (probs, embedding)."""

    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, *inputs):
        if self.kind == "image":
            return self.model.encode_image(*inputs)
        if self.kind == "text":
            return self.model.encode_text(*inputs)
        return self.model.encode_fused(*inputs)


# ---------------------------------------------------------------- losses

def pairwise_loss(a, b, same):
    """DCMH's negative log-likelihood of the similarity matrix from inner products of relaxed codes.

    a, b: [N, k] sigmoid activations; same: [N, M] 1 where the pair shares a subgroup."""
    k = a.shape[1]
    theta = (2 * a - 1) @ (2 * b - 1).t() * (8.0 / k)
    return (F.softplus(theta) - same * theta).mean()


def triplet_loss(anchor, other, labels_a, labels_o, margin):
    """Batch-hard triplets on relaxed Hamming distance, k/4 * ||2a-1 - (2b-1)||^2 / k."""
    d = torch.cdist(2 * anchor - 1, 2 * other - 1) ** 2 / 4.0
    same = labels_a.unsqueeze(1) == labels_o.unsqueeze(0)
    hardest_positive = (d * same).amax(1)
    hardest_negative = (d + same * 1e4).amin(1)
    has_both = same.any(1) & (~same).any(1)
    losses = F.relu(hardest_positive - hardest_negative + margin)
    return (losses * has_both).sum() / has_both.sum().clamp(min=1)


def alignment_loss(a, b, same, temperature=0.1):
    """CLIP-style contrastive alignment of two modalities' embeddings in the shared latent space: each
    picture's embedding is pulled to its own emoji's caption and pushed from the others in the batch
    (and back). MiniLM places unseen emoji names among related ones, and this carries that into the
    image tower. a, b: [N, d] L2-normalised; same: [N, N] 1 where the rows are the same emoji."""
    logits = a @ b.t() / temperature
    targets = same / same.sum(1, keepdim=True)
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean() - (targets.t() * F.log_softmax(logits.t(), dim=1)).sum(1).mean()


def hash_centres(classes, bits, seed=0):
    """One target code per class, far apart: rows of a Hadamard matrix and their complements when
    2*bits >= classes (any two at Hamming distance bits/2 or bits), else random codes (Yuan et al.'s
    central similarity quantization)."""
    if bits & (bits - 1) == 0 and 2 * bits >= classes:
        h = torch.ones(1, 1)
        while h.shape[0] < bits:
            h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
        rows = torch.cat([h, -h], 0)
        order = torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(seed))[:classes]
        return (rows[order] > 0).float()
    return (torch.rand(classes, bits, generator=torch.Generator().manual_seed(seed)) < 0.5).float()


def centre_loss(p, centres):
    """Binary cross-entropy of each activation against its class's centre bit."""
    return F.binary_cross_entropy(p.clamp(1e-6, 1 - 1e-6), centres)


def quantization_loss(p):
    return ((2 * p - 1).abs() - 1).pow(2).mean()


def balance_loss(p):
    return (2 * p - 1).mean(0).pow(2).mean()


# ---------------------------------------------------------------- codes


