package org.deephash.hamming;

import java.util.Random;

/** Brute-force references the tests check the real code against: bit by bit, no words, no tricks. */
public final class HammingOracle {
    private HammingOracle() {}

    public static int distance(byte[] a, byte[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("lengths differ");
        }
        int d = 0;
        for (int i = 0; i < a.length * 8; i++) {
            if (bit(a, i) != bit(b, i)) {
                d++;
            }
        }
        return d;
    }

    /** Bit {@code i} in reading order: the most significant bit of the first byte is bit 0. */
    public static int bit(byte[] code, int i) {
        return (code[i / 8] >> (7 - i % 8)) & 1;
    }

    public static byte[] randomCode(Random random, int bits) {
        // Byte by byte: the test framework's random().nextBytes is not uniform over many codes (100,000 codes
        // of 64 bits took two values of their fifth and sixth bytes).
        byte[] code = new byte[bits / 8];
        for (int i = 0; i < code.length; i++) {
            code[i] = (byte) random.nextInt(256);
        }
        return code;
    }

    /** A code at exactly {@code flips} random distinct bit positions from {@code base}. */
    public static byte[] flip(Random random, byte[] base, int flips) {
        byte[] out = base.clone();
        int bits = base.length * 8;
        java.util.BitSet done = new java.util.BitSet(bits);
        while (done.cardinality() < Math.min(flips, bits)) {
            int i = random.nextInt(bits);
            if (done.get(i) == false) {
                done.set(i);
                out[i / 8] ^= (byte) (0x80 >>> (i % 8));
            }
        }
        return out;
    }
}
