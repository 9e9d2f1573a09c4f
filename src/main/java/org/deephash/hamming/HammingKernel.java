package org.deephash.hamming;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.lucene.util.BitUtil;
import org.apache.lucene.util.Constants;

import java.lang.reflect.Method;

/**
 * Hamming distance from one query code to codes stored as bytes, with one implementation per common
 * width so that the hot loop is a fixed number of {@code Long.bitCount(q ^ c)} with the query words
 * in fields (registers), not in an array.
 *
 * <p>Codes are read as little-endian longs ({@link BitUtil#VH_LE_LONG}), the layout Lucene's
 * {@code IndexInput.readLong} also uses; a width that is not a multiple of 64 ends in a partial word
 * built from the remaining bytes. Distance does not depend on the word order as long as query and
 * document use the same one.
 */
public abstract class HammingKernel {
    /**
     * Whether the JIT leaves {@code Long.bitCount} loops scalar here: an x86 CPU without AVX-512
     * (HotSpot's {@code UseAVX} below 3), where 64-bit codes are counted first in the raw loop's shape
     * ({@link Bits64CountFirst}). Elsewhere (AVX-512, ARM, or {@code UseAVX} unreadable) the distances are
     * written in one vectorised pass and counted in another, which on AVX-512 ran a third faster.
     */
    static final boolean SCALAR_POPCOUNT = scalarPopcount();

    protected final int bits;

    private HammingKernel(int bits) {
        this.bits = bits;
    }

    /** A kernel specialised for the width of {@code query}. */
    public static HammingKernel forCode(HashCode query) {
        byte[] q = query.bytes();
        return switch (q.length) {
            case 8 -> SCALAR_POPCOUNT ? new Bits64CountFirst(q) : new Bits64(q);
            case 16 -> new Bits128(q);
            case 32 -> new Bits256(q);
            case 64 -> new Bits512(q);
            default -> new Generic(q);
        };
    }

    public final int bits() {
        return bits;
    }

    /** Distance to the code of {@code bits / 8} bytes that starts at {@code offset} in {@code code}. */
    public abstract int distance(byte[] code, int offset);

    /**
     * The scan's inner loop for widths that are a whole number of longs: the distance of each of
     * {@code count} codes to {@code distances}. The codes come word plane by word plane, as
     * {@link org.deephash.codec.FixedBitsDocValuesFormat} stores them: word {@code j} of code {@code i}
     * is {@code words[j * count + i]} (little-endian). Each width has its own copy of this loop, with the
     * query words in registers and no branch, so that every word is one pass over a contiguous array,
     * which the JIT vectorises (AVX-512 VPOPCNTQ where the CPU has it; without it, as on AVX2, the loops
     * stay scalar {@code popcnt}); {@link #distancesWithin} counts over the distances in a second pass.
     * Measured (bench/RESULTS.md): a single pass that also compared
     * and compacted ran at about 40% of a plain long[] loop for 64-bit codes, and codes back to back
     * (strided words) were not vectorised.
     */
    public abstract void distances(long[] codes, int count, int[] distances);

    /**
     * How many of {@code count} codes laid out as for {@link #distances(long[], int, int[])} are at most
     * {@code bound} away; when any is, {@code distances} holds the distance of every one of them (else
     * it may hold anything). The scan calls this once per block and collects the matches only of blocks
     * that have some: once a top-k search has a tight bound, or under a small radius, that is few of
     * them. By default the distances, then a count over them; on CPUs without vector popcount 64-bit
     * codes count first, in the raw loop's shape ({@link Bits64CountFirst}).
     */
    public int distancesWithin(long[] codes, int count, int bound, int[] distances) {
        distances(codes, count, distances);
        return countWithin(distances, count, bound);
    }

    /** {@link #distancesWithin(long[], int, int, int[])} for codes lying back to back in {@code codes}. */
    public final int distancesWithin(byte[] codes, int count, int bound, int[] distances) {
        distances(codes, count, distances);
        return countWithin(distances, count, bound);
    }

    /**
     * How many of the first {@code count} distances are at most {@code bound}, counted as the number
     * over it: {@code (bound - d) >>> 31} is 1 exactly when {@code d > bound} (a bound lies in -1..bits). The
     * arithmetic form is an integer add-reduction, which the JIT vectorises on AVX2 and AVX-512 alike;
     * {@code d <= bound ? 1 : 0} was left scalar (bench/RESULTS.md).
     */
    static int countWithin(int[] distances, int count, int bound) {
        int over = 0;
        for (int i = 0; i < count; i++) {
            over += (bound - distances[i]) >>> 31;
        }
        return count - over;
    }

    /** The distances of {@code count} codes lying back to back in {@code codes}, for widths that are not whole longs. */
    public final void distances(byte[] codes, int count, int[] distances) {
        int bytes = bits >>> 3;
        for (int i = 0; i < count; i++) {
            distances[i] = distance(codes, i * bytes);
        }
    }

    private static boolean scalarPopcount() {
        if (Constants.OS_ARCH.equals("amd64") == false && Constants.OS_ARCH.equals("x86_64") == false) {
            return false;
        }
        Logger logger = LogManager.getLogger(HammingKernel.class);
        try {
            // Through reflection, as Lucene reads HotSpot's options: jdk.management may be absent.
            Class<?> bean = Class.forName("com.sun.management.HotSpotDiagnosticMXBean");
            Object diagnostics = Class.forName("java.lang.management.ManagementFactory")
                .getMethod("getPlatformMXBean", Class.class)
                .invoke(null, bean);
            Method getVMOption = bean.getMethod("getVMOption", String.class);
            Object option = getVMOption.invoke(diagnostics, "UseAVX");
            String useAvx = getVMOption.getReturnType().getMethod("getValue").invoke(option).toString();
            boolean scalar = Integer.parseInt(useAvx) < 3;
            logger.info("UseAVX={}: 64-bit codes are scanned with the {} kernel", useAvx, scalar ? "count-first (scalar popcount)" : "vector");
            return scalar;
        } catch (ReflectiveOperationException | RuntimeException e) {
            logger.debug("HotSpot's UseAVX is not readable: 64-bit codes use the vector kernel", e);
            return false;
        }
    }

    static long word(byte[] b, int offset) {
        return (long) BitUtil.VH_LE_LONG.get(b, offset);
    }

    /** The last {@code length < 8} bytes as the low bytes of a little-endian long. */
    static long tailWord(byte[] b, int offset, int length) {
        long w = 0;
        for (int i = 0; i < length; i++) {
            w |= (b[offset + i] & 0xFFL) << (8 * i);
        }
        return w;
    }

    static class Bits64 extends HammingKernel {
        final long q0;

        Bits64(byte[] q) {
            super(64);
            q0 = word(q, 0);
        }

        @Override
        public int distance(byte[] c, int o) {
            return Long.bitCount(q0 ^ word(c, o));
        }

        @Override
        public void distances(long[] c, int count, int[] distances) {
            for (int i = 0; i < count; i++) {
                distances[i] = Long.bitCount(q0 ^ c[i]);
            }
        }
    }

    /**
     * 64-bit codes on CPUs without vector popcount ({@link #SCALAR_POPCOUNT}): counts without storing a
     * distance, as the raw loop does, and computes the distances only for a block with a match. On
     * AVX2, writing every block's int distances and counting over them in a second pass ran at under
     * half the raw loop's throughput; with a vector popcount the two vectorised passes are faster, and
     * the compare below is not vectorised (bench/RESULTS.md).
     */
    static final class Bits64CountFirst extends Bits64 {
        Bits64CountFirst(byte[] q) {
            super(q);
        }

        @Override
        public int distancesWithin(long[] c, int count, int bound, int[] distances) {
            int within = 0;
            for (int i = 0; i < count; i++) {
                within += Long.bitCount(q0 ^ c[i]) <= bound ? 1 : 0;
            }
            if (within > 0) {
                distances(c, count, distances);
            }
            return within;
        }
    }

    static final class Bits128 extends HammingKernel {
        private final long q0, q1;

        Bits128(byte[] q) {
            super(128);
            q0 = word(q, 0);
            q1 = word(q, 8);
        }

        @Override
        public int distance(byte[] c, int o) {
            return Long.bitCount(q0 ^ word(c, o)) + Long.bitCount(q1 ^ word(c, o + 8));
        }

        @Override
        public void distances(long[] c, int count, int[] distances) {
            for (int i = 0; i < count; i++) {
                distances[i] = Long.bitCount(q0 ^ c[i]) + Long.bitCount(q1 ^ c[count + i]);
            }
        }
    }

    static final class Bits256 extends HammingKernel {
        private final long q0, q1, q2, q3;

        Bits256(byte[] q) {
            super(256);
            q0 = word(q, 0);
            q1 = word(q, 8);
            q2 = word(q, 16);
            q3 = word(q, 24);
        }

        @Override
        public int distance(byte[] c, int o) {
            return Long.bitCount(q0 ^ word(c, o)) + Long.bitCount(q1 ^ word(c, o + 8)) + Long.bitCount(q2 ^ word(c, o + 16))
                + Long.bitCount(q3 ^ word(c, o + 24));
        }

        @Override
        public void distances(long[] c, int count, int[] distances) {
            final int c1 = count, c2 = 2 * count, c3 = 3 * count;
            for (int i = 0; i < count; i++) {
                distances[i] = Long.bitCount(q0 ^ c[i]) + Long.bitCount(q1 ^ c[c1 + i]) + Long.bitCount(q2 ^ c[c2 + i]) + Long.bitCount(q3 ^ c[c3 + i]);
            }
        }
    }

    static final class Bits512 extends HammingKernel {
        private final long q0, q1, q2, q3, q4, q5, q6, q7;

        Bits512(byte[] q) {
            super(512);
            q0 = word(q, 0);
            q1 = word(q, 8);
            q2 = word(q, 16);
            q3 = word(q, 24);
            q4 = word(q, 32);
            q5 = word(q, 40);
            q6 = word(q, 48);
            q7 = word(q, 56);
        }

        @Override
        public int distance(byte[] c, int o) {
            return Long.bitCount(q0 ^ word(c, o)) + Long.bitCount(q1 ^ word(c, o + 8)) + Long.bitCount(q2 ^ word(c, o + 16))
                + Long.bitCount(q3 ^ word(c, o + 24)) + Long.bitCount(q4 ^ word(c, o + 32)) + Long.bitCount(q5 ^ word(c, o + 40))
                + Long.bitCount(q6 ^ word(c, o + 48)) + Long.bitCount(q7 ^ word(c, o + 56));
        }

        @Override
        public void distances(long[] c, int count, int[] distances) {
            // Eight streams in one loop are not vectorised (measured: 3.6 ms against 0.35 for 1M codes at
            // 256 bits); two words at a time, accumulated, are.
            for (int i = 0; i < count; i++) {
                distances[i] = Long.bitCount(q0 ^ c[i]) + Long.bitCount(q1 ^ c[count + i]);
            }
            for (int i = 0, o = 2 * count; i < count; i++) {
                distances[i] += Long.bitCount(q2 ^ c[o + i]) + Long.bitCount(q3 ^ c[o + count + i]);
            }
            for (int i = 0, o = 4 * count; i < count; i++) {
                distances[i] += Long.bitCount(q4 ^ c[o + i]) + Long.bitCount(q5 ^ c[o + count + i]);
            }
            for (int i = 0, o = 6 * count; i < count; i++) {
                distances[i] += Long.bitCount(q6 ^ c[o + i]) + Long.bitCount(q7 ^ c[o + count + i]);
            }
        }
    }

    /** Any whole number of bytes: full words, then a partial word for the rest. */
    static final class Generic extends HammingKernel {
        private final long[] words;
        private final int tailBytes;

        Generic(byte[] q) {
            super(q.length * 8);
            int full = q.length / 8;
            tailBytes = q.length % 8;
            words = new long[full + (tailBytes == 0 ? 0 : 1)];
            for (int i = 0; i < full; i++) {
                words[i] = word(q, 8 * i);
            }
            if (tailBytes != 0) {
                words[full] = tailWord(q, 8 * full, tailBytes);
            }
        }

        @Override
        public int distance(byte[] c, int o) {
            int full = tailBytes == 0 ? words.length : words.length - 1;
            int d = 0;
            for (int i = 0; i < full; i++) {
                d += Long.bitCount(words[i] ^ word(c, o + 8 * i));
            }
            if (tailBytes != 0) {
                d += Long.bitCount(words[full] ^ tailWord(c, o + 8 * full, tailBytes));
            }
            return d;
        }

        @Override
        public void distances(long[] c, int count, int[] distances) {
            if (tailBytes != 0) {
                throw new IllegalStateException(bits + " bits is not a whole number of longs");
            }
            final long q0 = words[0];
            for (int i = 0; i < count; i++) {
                distances[i] = Long.bitCount(q0 ^ c[i]);
            }
            for (int j = 1, o = count; j < words.length; j++, o += count) {
                final long qj = words[j];
                for (int i = 0; i < count; i++) {
                    distances[i] += Long.bitCount(qj ^ c[o + i]);
                }
            }
        }
    }
}
