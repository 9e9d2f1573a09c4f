package org.deephash.model;

import org.deephash.hamming.HashCode;

/**
 * What the model gives for one input: the binary code, the sigmoid activations it was cut from, and
 * the L2-normalised embedding. Bit {@code i} of the code is 1 when {@code probs[i] >= threshold}; it is
 * bit {@code 7 - i % 8} of byte {@code i / 8}, as in {@link HashCode}.
 */
public final class HashOutput {
    private final byte[] code;
    private final float[] probs;
    private final float[] embedding;

    HashOutput(byte[] code, float[] probs, float[] embedding) {
        this.code = code;
        this.probs = probs;
        this.embedding = embedding;
    }

    /** The code, bits / 8 bytes, most significant bit first; do not modify. */
    public byte[] code() {
        return code;
    }

    /** The code as lower-case hex, bits / 4 characters: the canonical form of a binary_hash value. */
    public String codeHex() {
        return HashCode.ofBytes(code).toHex();
    }

    /** The sigmoid activation of each bit; do not modify. */
    public float[] probs() {
        return probs;
    }

    /** The L2-normalised embedding, for re-ranking; do not modify. */
    public float[] embedding() {
        return embedding;
    }

    /** Packs {@code probs[i] >= threshold} into bytes, bit i at bit {@code 7 - i % 8} of byte {@code i / 8}. */
    static byte[] pack(float[] probs, float threshold) {
        byte[] bytes = new byte[probs.length / 8];
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] >= threshold) {
                bytes[i >>> 3] |= (byte) (0x80 >>> (i & 7));
            }
        }
        return bytes;
    }
}
