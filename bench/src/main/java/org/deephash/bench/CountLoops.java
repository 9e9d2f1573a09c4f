package org.deephash.bench;

import java.util.Random;

/**
 * A plain timing loop (not JMH) over the ways of counting the 64-bit codes of a block within a bound,
 * each block first copied into one buffer as the scan copies it out of the mapping: which of them the
 * JIT vectorises on this CPU. Best of 200 passes over 1000 blocks of 1024 random codes, in ms per 1M
 * codes; run it also with {@code -XX:UseAVX=2} (bench/RESULTS.md).
 *
 * <pre>java -cp bench/target/benchmarks.jar org.deephash.bench.CountLoops</pre>
 */
public final class CountLoops {
    private static final int BLOCK = 1024, BLOCKS = 1000, PASSES = 200, ROUNDS = 5;
    private static final long Q = 0x0123456789abcdefL;

    private CountLoops() {}

    /** Count-first with a compare: the raw loop's shape. */
    static int compare(long[] c, int n, int bound) {
        int within = 0;
        for (int i = 0; i < n; i++) {
            within += Long.bitCount(Q ^ c[i]) <= bound ? 1 : 0;
        }
        return within;
    }

    /** Count-first, counting those over the bound in arithmetic form. */
    static int arithmetic(long[] c, int n, int bound) {
        int over = 0;
        for (int i = 0; i < n; i++) {
            over += (bound - Long.bitCount(Q ^ c[i])) >>> 31;
        }
        return n - over;
    }

    /** The distances, then a compare count over them. */
    static int distancesThenCompare(long[] c, int n, int bound, int[] d) {
        for (int i = 0; i < n; i++) {
            d[i] = Long.bitCount(Q ^ c[i]);
        }
        int within = 0;
        for (int i = 0; i < n; i++) {
            within += d[i] <= bound ? 1 : 0;
        }
        return within;
    }

    /** The distances, then the arithmetic count over them: the kept vector kernel. */
    static int distancesThenArithmetic(long[] c, int n, int bound, int[] d) {
        for (int i = 0; i < n; i++) {
            d[i] = Long.bitCount(Q ^ c[i]);
        }
        int over = 0;
        for (int i = 0; i < n; i++) {
            over += (bound - d[i]) >>> 31;
        }
        return n - over;
    }

    public static void main(String[] args) {
        Random random = new Random(1);
        long[][] blocks = new long[BLOCKS][BLOCK];
        for (long[] block : blocks) {
            for (int i = 0; i < BLOCK; i++) {
                block[i] = random.nextLong();
            }
        }
        long[] buffer = new long[BLOCK];
        int[] distances = new int[BLOCK];
        int bound = 16;
        String[] loops = { "copy only", "compare", "arithmetic", "distances + compare", "distances + arithmetic" };
        for (int round = 0; round < ROUNDS; round++) {
            int expected = -1;
            for (int loop = 0; loop < loops.length; loop++) {
                long best = Long.MAX_VALUE;
                int count = 0;
                for (int pass = 0; pass < PASSES; pass++) {
                    long start = System.nanoTime();
                    count = 0;
                    for (long[] block : blocks) {
                        System.arraycopy(block, 0, buffer, 0, BLOCK);
                        count += switch (loop) {
                            case 0 -> (int) buffer[BLOCK - 1] & 1;
                            case 1 -> compare(buffer, BLOCK, bound);
                            case 2 -> arithmetic(buffer, BLOCK, bound);
                            case 3 -> distancesThenCompare(buffer, BLOCK, bound, distances);
                            default -> distancesThenArithmetic(buffer, BLOCK, bound, distances);
                        };
                    }
                    best = Math.min(best, System.nanoTime() - start);
                }
                if (loop > 0) {
                    if (expected >= 0 && count != expected) {
                        throw new AssertionError(loops[loop] + " counted " + count + ", not " + expected);
                    }
                    expected = count;
                }
                if (round == ROUNDS - 1) {
                    System.out.printf("%-24s %.3f ms per 1M codes%n", loops[loop], best / 1e6 * 1_000_000 / ((double) BLOCK * BLOCKS));
                }
            }
        }
    }
}
