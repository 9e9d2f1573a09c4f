package org.deephash.hamming;

/**
 * What each step of a search costs, in nanoseconds, for choosing per segment between a scan and the
 * multi-index tables. Only the ratios matter; the defaults were measured on a two-core machine of the
 * project's CI kind (bench/RESULTS.md, "Multi-index hashing: the cost model").
 *
 * @param scanNanosPerWord one 64-bit word of one code in the scan (the whole block loop, per word)
 * @param bucketNanos      looking up one bucket of a table
 * @param entryNanos       reading one entry of a bucket and comparing its substring
 * @param verifyNanos      reading one candidate's code from its position and measuring its distance
 */
public record CostModel(double scanNanosPerWord, double bucketNanos, double entryNanos, double verifyNanos) {
    public static final CostModel DEFAULT = new CostModel(0.6, 80, 10, 200);

    /**
     * The tables are chosen when their estimate is below this share of the scan's: estimates are
     * averages, and a segment of clustered codes can hold more in the probed buckets than they say.
     */
    static final double CHOOSE_INDEX_BELOW = 0.5;
    /**
     * Looking up buckets (before knowing how many codes they hold) may cost at most this share of the
     * scan's: the most a segment loses when the lookups show the tables would cost more than the scan.
     */
    static final double PLAN_AT_MOST = 0.05;
    /**
     * A top-k search through the tables first looks this far (a share of the scan's cost). If the buckets it
     * looked up held more than {@link #NEAR_LOAD} times the codes the tables' average load puts there, or it
     * found {@link #NEAR_CODES} codes within its radius (or one within a fifth of the bits), it looks on up to
     * {@link #EXPLORE_AT_MOST}; then (or at once, where neither) it predicts how far it must go: no farther than
     * the k-th nearest code found so far, where the tables could reach that at their average load within
     * {@link #CHOOSE_INDEX_BELOW} of the scan; else from how many codes it found so near (or, if none, from a
     * sample of the segment; where the codes looked evenly spread, from their density).
     */
    static final double EXPLORE_FIRST = 0.005;
    /**
     * Codes gather near the query when its buckets hold this many times the average load (and more than chance
     * and the query's own source would add: {@code MultiIndexSearch.topK}), or when the first look found
     * {@link #NEAR_CODES} codes within the radius it searched (one may be the query's own source), or one
     * beyond it within a fifth of the bits.
     */
    static final double NEAR_LOAD = 2.0;
    static final int NEAR_CODES = 2;
    /** How far a top-k search looks where codes gather near the query (a share of the scan's cost). */
    static final double EXPLORE_AT_MOST = 0.08;

    /** The estimated cost of scanning {@code count} codes of {@code bytesPerCode} bytes. */
    public double scan(int count, int bytesPerCode) {
        return count * scanNanosPerWord * Math.max(1, (bytesPerCode + Long.BYTES - 1) / Long.BYTES);
    }
}
