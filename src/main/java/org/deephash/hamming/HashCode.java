package org.deephash.hamming;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * A binary hash code of a whole number of bytes.
 *
 * <p>The canonical text form is lower-case hex, two characters a byte. A code may also be written as
 * a list of 0/1 values; bit {@code i} of that list is bit {@code 7 - i % 8} of byte {@code i / 8}, so
 * {@code [1,0,0,0,0,0,0,0]} and {@code "80"} are the same code. Parsing errors are
 * {@link IllegalArgumentException}s whose message says what was expected; callers add the field name.
 */
public final class HashCode {
    public static final int MIN_BITS = 8;
    public static final int MAX_BITS = 4096;

    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;

    private HashCode(byte[] bytes) {
        this.bytes = bytes;
    }

    /** Wraps the given bytes; the array must not be changed afterwards. */
    public static HashCode ofBytes(byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalArgumentException("a code must have at least " + MIN_BITS + " bits");
        }
        return new HashCode(bytes);
    }

    /** Parses hex of any even length, upper or lower case. */
    public static HashCode fromHex(String hex) {
        if (hex.isEmpty()) {
            throw new IllegalArgumentException("expected hex characters but got an empty string");
        }
        if (hex.length() % 2 != 0) {
            throw new IllegalArgumentException(
                "expected an even number of hex characters (a code is a whole number of bytes) but got " + hex.length() + " in [" + preview(hex) + "]"
            );
        }
        for (int i = 0; i < hex.length(); i++) {
            if (Character.digit(hex.charAt(i), 16) < 0) {
                throw new IllegalArgumentException(
                    "expected hex characters [0-9a-fA-F] but found [" + hex.charAt(i) + "] at position " + i + " in [" + preview(hex) + "]"
                );
            }
        }
        return new HashCode(HEX.parseHex(hex));
    }

    /** Parses a list of 0/1 numbers; its length must be a multiple of 8. */
    public static HashCode fromBitList(List<?> values) {
        if (values.isEmpty() || values.size() % 8 != 0) {
            throw new IllegalArgumentException(
                "expected a multiple of 8 values of 0 or 1 (a code is a whole number of bytes) but got " + values.size() + " values"
            );
        }
        byte[] bytes = new byte[values.size() / 8];
        for (int i = 0; i < values.size(); i++) {
            Object v = values.get(i);
            int bit = bitValue(v, i);
            if (bit == 1) {
                bytes[i >>> 3] |= (byte) (0x80 >>> (i & 7));
            }
        }
        return new HashCode(bytes);
    }

    private static int bitValue(Object v, int index) {
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (d == 0 || d == 1) {
                return (int) d;
            }
        }
        if (v instanceof String s) {
            throw new IllegalArgumentException(
                "expected the number 0 or 1 at position " + index + " of the bit array but got the string [\"" + preview(s) + "\"]"
            );
        }
        throw new IllegalArgumentException("expected 0 or 1 at position " + index + " of the bit array but got [" + v + "]");
    }

    public int bits() {
        return bytes.length * 8;
    }

    /** The code's bytes; do not modify. */
    public byte[] bytes() {
        return bytes;
    }

    public String toHex() {
        return HEX.formatHex(bytes);
    }

    public static String toHex(byte[] bytes, int offset, int length) {
        return HEX.formatHex(bytes, offset, offset + length);
    }

    /** Refuses a code whose width is not {@code bits}, naming both. */
    public HashCode checkBits(int expectedBits) {
        if (bits() != expectedBits) {
            throw new IllegalArgumentException(
                "expected a code of [" + expectedBits + "] bits (" + expectedBits / 4 + " hex characters or " + expectedBits
                    + " values of 0/1) but got [" + bits() + "] bits"
            );
        }
        return this;
    }

    /** Checks a {@code bits} setting: a multiple of 8 from 8 to 4096. */
    public static void validateBits(int bits) {
        if (bits < MIN_BITS || bits > MAX_BITS || bits % 8 != 0) {
            throw new IllegalArgumentException(
                "[bits] must be a multiple of 8 from " + MIN_BITS + " to " + MAX_BITS + " but was [" + bits + "]"
            );
        }
    }

    /** The start of a long user value, for error messages. */
    public static String preview(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HashCode other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return toHex().toLowerCase(Locale.ROOT);
    }
}
