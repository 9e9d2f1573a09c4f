package org.deephash.hamming;

import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.util.ArrayUtil;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.SparseFixedBitSet;
import org.deephash.codec.FixedBitsCodes;
import org.deephash.codec.MultiIndexTable;

import java.io.IOException;
import java.util.Arrays;

/**
 * Exact search of one segment's codes through its multi-index hashing tables (Norouzi, Punjani and
 * Fleet, TPAMI 2014).
 *
 * <p>The pigeonhole rule: split a code into m substrings and write the radius as {@code r = m * q + a}
 * with {@code 0 <= a < m}. A code within {@code r} of the query has a substring among the first
 * {@code a + 1} within {@code q} of the query's, or one among the others within {@code q - 1}: if
 * none had, its distance would be at least {@code (a + 1)(q + 1) + (m - a - 1) q = r + 1}. So probing
 * those substring radii finds every code within {@code r}; each candidate's true distance is then
 * computed from its code. From radius {@code r} to {@code r + 1} exactly one substring's radius grows
 * by one, which is how top-k widens the search step by step.
 *
 * <p>A probe enumerates the buckets whose high bits lie within the substring's radius of the query's
 * (combinations of bit flips) and keeps the entries whose whole substring does. Every document is
 * verified once per search, however many substrings find it. Not thread-safe: one per segment search.
 */
final class MultiIndexSearch {
    private final MultiIndexTable table;
    private final FixedBitsCodes codes;
    private final HammingKernel kernel;
    private final CostModel cost;
    private final long[] querySubstrings;
    private final IndexInput in;
    private final byte[] code;
    private final SparseFixedBitSet seen;
    /** Work done so far, in the cost model's nanoseconds. */
    private double spent;
    private String decision;

    MultiIndexSearch(MultiIndexTable table, FixedBitsCodes codes, HammingKernel kernel, byte[] query, int maxDoc, CostModel cost) {
        this.table = table;
        this.codes = codes;
        this.kernel = kernel;
        this.cost = cost;
        int m = table.substrings();
        this.querySubstrings = new long[m];
        for (int j = 0; j < m; j++) {
            querySubstrings[j] = MultiIndexTable.substring(query, 0, table.start(j), table.length(j));
        }
        this.in = codes.codes();
        this.code = new byte[codes.bytesPerCode()];
        this.seen = new SparseFixedBitSet(Math.max(1, maxDoc));
    }

    /** The radius of substring {@code j} for a search of radius {@code r}; -1 means the substring is not probed. */
    static int substringRadius(int r, int m, int j) {
        return j <= r % m ? r / m : r / m - 1;
    }

    /**
     * The codes within {@code r} in document order with their distances, or null, where the tables would
     * cost more than the scan ({@link #decision()} says why), unless {@code forced}.
     */
    Candidates radius(int r, double scanCost, boolean forced) throws IOException {
        int m = table.substrings();
        double buckets = 0;
        double expected = 0;
        for (int j = 0; j < m; j++) {
            double b = buckets(j, 0, substringRadius(r, m, j));
            buckets += b;
            expected += b * ((double) codes.count() / (1L << table.directoryBits(j)));
        }
        // Before reading any offsets: at the tables' average load (near clustered codes the load is higher,
        // which the planned buckets then show).
        double guess = buckets * cost.bucketNanos() + expected * (cost.entryNanos() + cost.verifyNanos());
        if (forced == false && (buckets * cost.bucketNanos() > CostModel.PLAN_AT_MOST * scanCost || guess > CostModel.CHOOSE_INDEX_BELOW * scanCost)) {
            decision = "scan: radius " + r + " needs " + (long) buckets + " bucket lookups in " + m + " tables, about " + (long) expected + " codes";
            return null;
        }
        Probe[] probes = new Probe[m];
        double estimate = spent;
        for (int j = 0; j < m; j++) {
            probes[j] = plan(j, 0, substringRadius(r, m, j));
            estimate += estimate(probes[j]);
        }
        long entries = Arrays.stream(probes).mapToLong(p -> p.entries).sum();
        if (forced == false && estimate > CostModel.CHOOSE_INDEX_BELOW * scanCost) {
            decision = "scan: radius " + r + " finds " + entries + " entries in " + (long) buckets + " buckets of " + m + " tables";
            return null;
        }
        Candidates found = new Candidates();
        for (Probe probe : probes) {
            run(probe, found);
        }
        int candidates = found.size;
        verify(found, 0, null);
        found.keepWithin(r);
        decision = "multi_index: " + m + " substrings, radius " + r + ": " + (long) buckets + " buckets, " + candidates + " candidates, "
            + found.size + " within";
        return found;
    }

    /**
     * The {@code k} nearest live codes within {@code maxDistance}, by distance then document, or null
     * where the tables would cost more than the scan ({@link #decision()} says why), unless {@code forced}.
     * Widens the radius one step at a time (one substring's radius grows by one) and stops once {@code k}
     * live codes lie within the radius searched so far: every code within it has been found, so no code
     * still unseen can be nearer than them (Norouzi et al.'s stopping rule).
     */
    Candidates topK(int k, int maxDistance, Bits liveDocs, double scanCost, boolean forced) throws IOException {
        int m = table.substrings();
        Candidates found = new Candidates();
        long buckets = 0;
        long entries = 0;
        // First a short look. Where its buckets held more codes than the tables' average load, or it found codes
        // within the radius it searched (codes gather near the query: clustered codes), a longer look, which is
        // where many top-k searches of clustered codes end; where neither (codes spread evenly, whose k nearest
        // lie far; at most one near code, say the query's own source), no longer look. Past the look, only
        // if the codes found so far (or a sample of the segment) say that the radius holding k codes is within
        // the tables' reach.
        double budget = forced ? Double.POSITIVE_INFINITY : CostModel.EXPLORE_FIRST * scanCost;
        boolean firstLook = forced == false;
        double averageEntries = 0;
        boolean predicted = false;
        // Past a prediction from the k-th nearest found so far: each step is weighed by what its buckets hold
        // (planned before it runs), not by the load of the buckets seen so far.
        boolean bounded = false;
        int r = 0;
        for (; r <= maxDistance; r++) {
            int j = r % m;
            int rho = r / m;
            if (rho <= table.length(j)) {
                double averageLoad = (double) codes.count() / (1L << table.directoryBits(j));
                double load = Math.max(averageLoad, buckets == 0 ? 0 : (double) entries / buckets);
                double visits = buckets(j, rho, rho);
                double step = visits * (cost.bucketNanos() + load * (cost.entryNanos() + cost.verifyNanos()));
                // The first look sees at least the query's own bucket in every table (radius 0 in each substring).
                boolean looking = firstLook && r < m;
                boolean spread = false;
                if (firstLook && looking == false && spent + step > budget) {
                    firstLook = false;
                    // More than the average load by more than chance (three standard deviations of a Poisson count)
                    // and than the query's own source code (one entry in each table) would explain.
                    double loaded = CostModel.NEAR_LOAD * averageEntries + 3 * Math.sqrt(averageEntries) + m;
                    if (entries > loaded || gathered(found, r - 1)) {
                        budget = Math.max(budget, CostModel.EXPLORE_AT_MOST * scanCost);
                    } else {
                        spread = true;
                    }
                }
                if (looking == false && bounded == false && spent + step > budget) {
                    if (predicted) {
                        return outOfBudget(k, r);
                    }
                    predicted = true;
                    // The k-th nearest of the codes found so far bounds the k-th nearest of all: the tables need go no
                    // farther. Where they could get there at their average load, they go on, up to the share of the
                    // scan they may cost (codes that gather at some distance from the query, as a cluster's do around
                    // a code from another shard, fill the first buckets with candidates that near, and the buckets
                    // beyond hold fewer: the first buckets' load would overstate what remains many times over).
                    int bound = Math.min(maxDistance, found.kthDistance(k));
                    if (spent + remaining(r, bound, averageLoad) <= CostModel.CHOOSE_INDEX_BELOW * scanCost) {
                        budget = CostModel.CHOOSE_INDEX_BELOW * scanCost;
                        bounded = true;
                    } else {
                        // Else the radius evenly spread codes need, where the first look saw them so (a lone near
                        // code, likely the query's own source, says nothing about the others); else extrapolate from
                        // the codes found so far, else ask a sample of the segment.
                        int within = found.countWithin(r - 1);
                        int expected = Math.min(maxDistance, spread ? uniformRadius(k)
                            : within > 0 ? extrapolatedRadius(k, within, r - 1) : sampleRadius(k));
                        double remaining = remaining(r, expected, load);
                        if (spent + remaining > CostModel.CHOOSE_INDEX_BELOW * scanCost) {
                            decision = "scan: top " + k + " needs about radius " + expected + (spread ? " (the codes look evenly spread)" : "")
                                + ", too far for the tables";
                            return null;
                        }
                        // Twice the prediction at most: a wrong one costs a bounded share of the scan.
                        budget = spent + Math.min(CostModel.CHOOSE_INDEX_BELOW * scanCost, Math.max(2 * remaining, budget));
                    }
                }
                Probe probe = plan(j, rho, rho);
                if (bounded && spent + estimate(probe) > budget) {
                    return outOfBudget(k, r);
                }
                averageEntries += visits * averageLoad;
                buckets += probe.size;
                entries += probe.entries;
                int from = found.size;
                run(probe, found);
                verify(found, from, liveDocs);
            }
            if (found.countWithin(r) >= k) {
                break;
            }
        }
        found.keepNearest(k, Math.min(r, maxDistance));
        decision = "multi_index: " + m + " substrings, top " + k + " by radius " + Math.min(r, maxDistance) + ": " + buckets + " buckets";
        return found;
    }

    /** Gives the segment up to the scan: the top {@code k} were not found by radius {@code r} within the budget. */
    private Candidates outOfBudget(int k, int r) {
        decision = "scan: top " + k + " not found by radius " + r + " within the tables' budget";
        return null;
    }

    /**
     * Whether the candidates found so far say that codes gather near the query: {@link CostModel#NEAR_CODES} of them
     * within the radius searched (all codes that near have been found; one may be the query's own source), or one
     * beyond it but within a fifth of the bits. A candidate of the first look shares one substring with the query,
     * and its other bits, if spread evenly, differ in half their places: 12 or fewer of 42 (64 bits, 3 tables)
     * about once in 250, of 48 (4 tables) once in 2,800, so that a query of evenly spread codes, with 5 to 10 such
     * candidates, takes the longer look (bounded, as any) in about 3% of cases; a cluster's codes a few bits from
     * the query put some of theirs there. Where bits lean far from half (each set in 20% or 80% of codes), codes
     * not gathered come that near much more often (about one candidate in 3), and such queries pay the longer look.
     */
    private boolean gathered(Candidates found, int searched) {
        int within = found.countWithin(searched);
        return within >= CostModel.NEAR_CODES || found.countWithin(Math.max(searched, kernel.bits() / 5)) > within;
    }

    /** What probing radii {@code from} to {@code to} would cost, at {@code load} entries a bucket. */
    private double remaining(int from, int to, double load) {
        double remaining = 0;
        for (int s = from; s <= to; s++) {
            remaining += buckets(s % table.substrings(), s / table.substrings(), s / table.substrings())
                * (cost.bucketNanos() + load * (cost.entryNanos() + cost.verifyNanos()));
        }
        return remaining;
    }

    /**
     * The radius within which about {@code k} codes lie, given that {@code within} lie within {@code searched}:
     * the count scaled by the volume of the Hamming ball, as if the codes near the query were spread evenly.
     */
    private int extrapolatedRadius(int k, int within, int searched) {
        int bits = kernel.bits();
        double volume = 0;
        double searchedVolume = 0;
        double binomial = 1;
        for (int d = 0; d <= bits; d++) {
            volume += binomial;
            if (d == searched) {
                searchedVolume = volume;
            }
            if (d >= searched && within * volume / searchedVolume >= k) {
                return d;
            }
            binomial = binomial * (bits - d) / (d + 1);
        }
        return bits;
    }

    /** The radius within which about {@code k} of the segment's codes would lie if they were spread evenly over all codes. */
    private int uniformRadius(int k) {
        int bits = kernel.bits();
        // count * volume / 2^bits >= k, in logarithms (2^bits overflows a double's exponent past 1023 bits)
        double logVolumeNeeded = Math.log(k) - Math.log(codes.count()) + bits * Math.log(2);
        double volume = 0;
        double binomial = 1;
        for (int d = 0; d <= bits; d++) {
            volume += binomial;
            if (Math.log(volume) >= logVolumeNeeded) {
                return d;
            }
            binomial = binomial * (bits - d) / (d + 1);
        }
        return bits;
    }

    /**
     * The radius within which about {@code k} of the segment's codes lie, from the distances of a sample
     * of its codes (at most 256, and at most one in 256 so that the sample costs about 1% of a scan).
     * A sample too small to see k codes that near answers its nearest distance: too far, never too near.
     */
    private int sampleRadius(int k) throws IOException {
        int count = codes.count();
        int size = Math.max(1, Math.min(256, count / 256));
        int[] distances = new int[size];
        for (int i = 0; i < size; i++) {
            codes.readCode(in, (int) ((long) count * i / size), code);
            distances[i] = kernel.distance(code, 0);
        }
        spent += size * cost.verifyNanos();
        Arrays.sort(distances);
        int index = (int) Math.min(size - 1, Math.max(0, Math.ceil((double) k * size / count) - 1));
        return distances[index];
    }

    /** The work done so far, in the cost model's nanoseconds. */
    double spent() {
        return spent;
    }

    /** How the last search went: the tables, or why the scan. */
    String decision() {
        return decision;
    }

    /** The buckets a probe of substring {@code j} at distances {@code [from, to]} visits, from the binomials. */
    double buckets(int j, int from, int to) {
        int t = table.directoryBits(j);
        int low = table.length(j) - t;
        double buckets = 0;
        for (int w = Math.max(0, from - low); w <= Math.min(to, t); w++) {
            buckets += binomial(t, w);
        }
        return buckets;
    }

    /**
     * The buckets of substring {@code j} that can hold a substring at a distance in {@code [from, to]}
     * from the query's, with their entries' ranges: reads the table's offsets, not its entries.
     */
    Probe plan(int j, int from, int to) {
        int t = table.directoryBits(j);
        int low = table.length(j) - t;
        int qHigh = (int) (querySubstrings[j] >>> low);
        Probe probe = new Probe(j, from, to);
        long limit = 1L << t;
        for (int w = Math.max(0, from - low); w <= Math.min(to, t); w++) {
            // Gosper's hack: every t-bit mask with w bits set, in increasing order (w = 0: only 0).
            for (long mask = (1L << w) - 1; mask < limit; mask = w == 0 ? limit : nextCombination(mask)) {
                int bucket = (int) (qHigh ^ mask);
                long start = table.bucketStart(j, bucket);
                long end = table.bucketStart(j, bucket + 1);
                if (end > start) {
                    probe.add(bucket, start, end);
                }
                spent += cost.bucketNanos();
            }
        }
        return probe;
    }

    /** The cost of running a planned probe and verifying what it finds, at most (a document found twice is verified once). */
    double estimate(Probe probe) {
        return probe.entries * (cost.entryNanos() + cost.verifyNanos());
    }

    /** Adds to {@code out} the documents not seen before that a planned probe finds. */
    void run(Probe probe, Candidates out) {
        int j = probe.substring;
        long q = querySubstrings[j];
        for (int b = 0; b < probe.size; b++) {
            int bucket = probe.buckets[b];
            for (long i = probe.starts[b], end = probe.ends[b]; i < end; i++) {
                long entry = table.entry(j, i);
                int d = Long.bitCount(table.value(j, bucket, entry) ^ q);
                if (d >= probe.from && d <= probe.to) {
                    int doc = table.doc(j, entry);
                    if (seen.get(doc) == false) {
                        seen.set(doc);
                        out.add(doc);
                    }
                }
            }
        }
        spent += probe.entries * cost.entryNanos();
    }

    /** The buckets one probe visits: substring {@code substring}, distances {@code [from, to]}. */
    static final class Probe {
        final int substring;
        final int from;
        final int to;
        int[] buckets = new int[8];
        long[] starts = new long[8];
        long[] ends = new long[8];
        int size;
        long entries;

        Probe(int substring, int from, int to) {
            this.substring = substring;
            this.from = from;
            this.to = to;
        }

        void add(int bucket, long start, long end) {
            if (size == buckets.length) {
                buckets = ArrayUtil.growExact(buckets, size * 2);
                starts = ArrayUtil.growExact(starts, size * 2);
                ends = ArrayUtil.growExact(ends, size * 2);
            }
            buckets[size] = bucket;
            starts[size] = start;
            ends[size] = end;
            size++;
            entries += end - start;
        }
    }

    private static long nextCombination(long mask) {
        long lowest = mask & -mask;
        long ripple = mask + lowest;
        return ripple | (((mask ^ ripple) >>> 2) / lowest);
    }

    static double binomial(int n, int k) {
        double c = 1;
        for (int i = 0; i < k; i++) {
            c = c * (n - i) / (i + 1);
        }
        return c;
    }

    /**
     * Computes the distance of every candidate added since {@code from} (sorting them by document first),
     * keeping only the live ones when {@code liveDocs} is given.
     */
    void verify(Candidates candidates, int from, Bits liveDocs) throws IOException {
        candidates.sortFrom(from);
        IndexedDISI sparse = codes.isDense() ? null : codes.documents();
        int kept = from;
        for (int i = from; i < candidates.size; i++) {
            int doc = candidates.docs[i];
            if (liveDocs != null && liveDocs.get(doc) == false) {
                continue;
            }
            int position;
            if (sparse == null) {
                position = doc;
            } else {
                sparse.advanceExact(doc);
                position = sparse.index();
            }
            codes.readCode(in, position, code);
            candidates.docs[kept] = doc;
            candidates.distances[kept] = kernel.distance(code, 0);
            kept++;
        }
        spent += (candidates.size - from) * cost.verifyNanos();
        candidates.size = kept;
    }

    /** Documents with their distances, in groups sorted by document. */
    static final class Candidates {
        int[] docs = new int[16];
        int[] distances = new int[16];
        int size;

        void add(int doc) {
            if (size == docs.length) {
                docs = ArrayUtil.grow(docs, size + 1);
                distances = ArrayUtil.growExact(distances, docs.length);
            }
            docs[size++] = doc;
        }

        void add(int doc, int distance) {
            add(doc);
            distances[size - 1] = distance;
        }

        /** Adds every one of {@code other}'s, their documents shifted by {@code docBase}. */
        void addAll(Candidates other, int docBase) {
            for (int i = 0; i < other.size; i++) {
                add(docBase + other.docs[i], other.distances[i]);
            }
        }

        void sortFrom(int from) {
            Arrays.sort(docs, from, size);
        }

        int countWithin(int bound) {
            int n = 0;
            for (int i = 0; i < size; i++) {
                n += distances[i] <= bound ? 1 : 0;
            }
            return n;
        }

        /** The {@code k}-th smallest distance, or {@link Integer#MAX_VALUE} where there are fewer than {@code k}. */
        int kthDistance(int k) {
            if (size < k) {
                return Integer.MAX_VALUE;
            }
            int[] sorted = Arrays.copyOf(distances, size);
            Arrays.sort(sorted);
            return sorted[k - 1];
        }

        /** Keeps those within {@code bound}, in their order. */
        void keepWithin(int bound) {
            int kept = 0;
            for (int i = 0; i < size; i++) {
                if (distances[i] <= bound) {
                    docs[kept] = docs[i];
                    distances[kept++] = distances[i];
                }
            }
            size = kept;
        }

        /** Keeps the {@code k} nearest within {@code bound}, by distance then document, in document order. */
        void keepNearest(int k, int bound) {
            keepWithin(bound);
            long[] pairs = new long[size];
            for (int i = 0; i < size; i++) {
                pairs[i] = (long) distances[i] << 32 | docs[i];
            }
            Arrays.sort(pairs);
            int kept = Math.min(k, size);
            for (int i = 0; i < kept; i++) {
                pairs[i] = (pairs[i] & 0xFFFFFFFFL) << 32 | (pairs[i] >>> 32);
            }
            Arrays.sort(pairs, 0, kept);
            for (int i = 0; i < kept; i++) {
                docs[i] = (int) (pairs[i] >>> 32);
                distances[i] = (int) pairs[i];
            }
            size = kept;
        }
    }
}
