package org.deephash.hamming;

import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.TaskExecutor;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsCodes;
import org.deephash.codec.FixedBitsValues;
import org.deephash.codec.MultiIndexTable;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The documents of one segment whose code lies within a bound of the query code, in doc id order,
 * with each one's distance. The bound can only shrink, as a top-k search learns which distances can
 * still compete.
 *
 * <p>Two readers: a block scan over the contiguous codes of {@link org.deephash.codec.FixedBitsDocValuesFormat}
 * (the fast path), and one document at a time through plain {@link BinaryDocValues} for indices
 * written in any other format. Both give the same answers.
 */
public abstract class HammingIterator extends DocIdSetIterator {
    /** A segment is scanned in ranges of at least this many documents. */
    static final int MIN_RANGE_DOCS = 1 << 18;
    /**
     * The most matches a radius search gathers in ranges: the hits Elasticsearch counts before its
     * collector starts to prune ({@code track_total_hits}' default).
     */
    static final int RANGES_CAP = 10_000;

    protected final HammingKernel kernel;
    protected int bound;
    protected int doc = -1;
    protected int distance = -1;
    private String decision = "scan";

    private HammingIterator(HammingKernel kernel, int bound) {
        this.kernel = kernel;
        this.bound = bound;
    }

    /** A scan of {@code field} in {@code reader}, or {@code null} if no document there has a code. */
    public static HammingIterator open(LeafReader reader, String field, HammingKernel kernel, int maxDistance) throws IOException {
        return open(reader, field, null, kernel, maxDistance, SearchStrategy.SCAN, CostModel.DEFAULT);
    }

    /**
     * The codes of {@code field} in {@code reader} within {@code maxDistance}, found by the segment's
     * multi-index tables or by a scan as {@code strategy} and the cost model say; {@code null} if no
     * document there has a code. {@link #decision()} says which ran.
     */
    public static HammingIterator open(LeafReader reader, String field, HashCode query, HammingKernel kernel, int maxDistance, SearchStrategy strategy, CostModel cost)
        throws IOException {
        BinaryDocValues values = reader.getBinaryDocValues(field);
        if (values == null) {
            return null;
        }
        if (values instanceof FixedBitsValues fixed) {
            FixedBitsCodes codes = fixed.fixedBitsCodes();
            checkWidth(field, codes.bytesPerCode(), kernel);
            MultiIndexTable table = strategy == SearchStrategy.SCAN ? null : codes.multiIndex();
            if (table == null) {
                return new BlockScan(codes, kernel, maxDistance).decided(strategy == SearchStrategy.SCAN ? "scan: asked for" : "scan: no multi-index tables in this segment");
            }
            MultiIndexSearch search = new MultiIndexSearch(table, codes, kernel, query.bytes(), reader.maxDoc(), cost);
            MultiIndexSearch.Candidates found = search.radius(maxDistance, cost.scan(codes.count(), codes.bytesPerCode()), strategy == SearchStrategy.INDEX);
            if (found == null) {
                return new BlockScan(codes, kernel, maxDistance).decided(search.decision());
            }
            return new Listed(kernel, maxDistance, found).decided(search.decision());
        }
        return new OneByOne(field, values, kernel, maxDistance).decided("scan: the field is not in the plugin's format here");
    }

    /**
     * How many ranges a scan of a segment of {@code maxDoc} documents is split into, to run on as many
     * threads: one per processor, each of at least {@link #MIN_RANGE_DOCS} documents.
     */
    static int scanRanges(int maxDoc) {
        return Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), maxDoc / MIN_RANGE_DOCS));
    }

    /** The first document of range {@code r} of a segment split into {@code ranges} equal ones ({@code maxDoc} for {@code r == ranges}). */
    static int rangeStart(int maxDoc, int r, int ranges) {
        return (int) ((long) maxDoc * r / ranges);
    }

    /**
     * {@code it}, or, where {@code it} scans a segment large enough to split and a radius narrows the
     * matches, an iterator whose first pass from the start of the segment (a {@code nextDoc} before any
     * {@code advance}: the collector or a conjunction's lead reading every match) scans the segment in
     * {@link #scanRanges} ranges on {@code executor} and walks what they found. A pass that starts with an
     * {@code advance} (a conjunction led by a more selective clause) stays lazy, and so does one whose
     * ranges find more than {@link #RANGES_CAP} matches (then the ranges' work is dropped and the scan runs
     * alone, the collector's bound pruning it).
     *
     * <p>Why a radius only, and why the cap: a collector keeping the top hits prunes a lazy scan once it has
     * counted enough of them, and a scan whose bound has shrunk skips the distances of blocks without a
     * match; ranges cannot prune without knowing how many hits the collector keeps. Searching every code in
     * ranges (the rest of the segment from the collector's first bound on) was measured at half the speed
     * of the lazy scan on one thread and no faster on two (bench/RESULTS.md); below the cap the collector
     * would not have pruned yet.
     */
    static HammingIterator firstPassInRanges(HammingIterator it, LeafReader reader, String field, TaskExecutor executor) {
        return firstPassInRanges(it, reader, field, executor, scanRanges(reader.maxDoc()), RANGES_CAP);
    }

    static HammingIterator firstPassInRanges(HammingIterator it, LeafReader reader, String field, TaskExecutor executor, int ranges, int cap) {
        if (it instanceof BlockScan == false || it.bound >= it.kernel.bits() || ranges < 2) {
            return it;
        }
        return new InRanges(it, reader, field, executor, ranges, cap);
    }

    /** Which way this segment is searched, and why. */
    public final String decision() {
        return decision;
    }

    final HammingIterator decided(String decision) {
        this.decision = decision;
        return this;
    }

    static void checkWidth(String field, int bytesPerCode, HammingKernel kernel) {
        if (bytesPerCode * 8 != kernel.bits()) {
            throw new IllegalStateException(
                "field [" + field + "] holds codes of " + bytesPerCode * 8 + " bits but the query has " + kernel.bits() + " bits"
            );
        }
    }

    /** The distance of the current document's code. */
    public final int distance() {
        return distance;
    }

    /** Lowers the largest distance that still matches; a larger value is ignored. */
    public final void lowerBound(int newBound) {
        if (newBound < bound) {
            bound = newBound;
        }
    }

    @Override
    public final int docID() {
        return doc;
    }

    /**
     * Reads codes in blocks from the mmapped data (a whole block with one bulk read), computes a block's
     * distances in one tight loop, then walks them.
     */
    static final class BlockScan extends HammingIterator {
        /** Codes fetched after an {@code advance}: few, since a conjunction may jump again right away. */
        private static final int ADVANCE_BLOCK = 16;

        private final FixedBitsCodes codes;
        private final IndexInput in;
        private final IndexedDISI sparse;
        private final int bytesPerCode;
        private final int blockSize;
        /** Codes as longs, word plane by word plane, when the width is a whole number of longs (the fast kernels), else as bytes. */
        private final long[] words;
        private final byte[] bytes;
        private final int[] distances;
        /** Positions in the block of the codes within the bound when the block was read, in order. */
        private final int[] matches;
        private final int[] blockDocs;
        /** The block: codes [blockStart, blockStart + blockCount) by position; matches[next] is the one to look at. */
        private int blockStart;
        private int blockCount;
        private int matchCount;
        private int next;
        /** The first position not read yet. */
        private int nextPosition;

        BlockScan(FixedBitsCodes codes, HammingKernel kernel, int bound) throws IOException {
            super(kernel, bound);
            this.codes = codes;
            this.in = codes.codes();
            this.sparse = codes.isDense() ? null : codes.documents();
            this.bytesPerCode = codes.bytesPerCode();
            // The format's blocks (at most 8 KiB): a whole block is one bulk read into a buffer that stays in L1.
            this.blockSize = Math.max(ADVANCE_BLOCK, codes.codesPerBlock());
            boolean wholeLongs = codes.wordBytes() == Long.BYTES; // stored word plane by word plane
            this.words = wholeLongs ? new long[blockSize * bytesPerCode / Long.BYTES] : null;
            this.bytes = wholeLongs ? null : new byte[blockSize * bytesPerCode];
            this.distances = new int[blockSize];
            this.matches = new int[blockSize];
            this.blockDocs = sparse == null ? null : new int[blockSize];
        }

        @Override
        public int nextDoc() throws IOException {
            while (true) {
                while (next < matchCount) {
                    int i = matches[next++];
                    // The bound may have shrunk since the block was read.
                    if (distances[i] <= bound) {
                        distance = distances[i];
                        return doc = docOf(i);
                    }
                }
                if (fill(blockSize) == false) {
                    return doc = NO_MORE_DOCS;
                }
            }
        }

        @Override
        public int advance(int target) throws IOException {
            // Within the block already read: skip to target there.
            if (blockCount > 0 && docOf(blockCount - 1) >= target) {
                while (next < matchCount && docOf(matches[next]) < target) {
                    next++;
                }
                return nextDoc();
            }
            next = matchCount = blockCount = 0;
            if (sparse == null) {
                nextPosition = Math.max(nextPosition, target);
            } else if (sparse.docID() < target) {
                if (sparse.advance(target) == NO_MORE_DOCS) {
                    return doc = NO_MORE_DOCS;
                }
                nextPosition = sparse.index();
            }
            if (fill(ADVANCE_BLOCK) == false) {
                return doc = NO_MORE_DOCS;
            }
            return nextDoc();
        }

        private int docOf(int i) {
            return sparse == null ? blockStart + i : blockDocs[i];
        }

        /** Reads and measures up to {@code wanted} codes from {@code nextPosition} on, within its storage block; false when none are left. */
        private boolean fill(int wanted) throws IOException {
            if (nextPosition >= codes.count()) {
                return false;
            }
            wanted = Math.min(wanted, codes.blockEnd(nextPosition) - nextPosition);
            int count;
            if (sparse == null) {
                count = Math.min(wanted, codes.count() - nextPosition);
            } else {
                // The sparse iterator sits on the first document not read yet (or before the start).
                if (sparse.docID() == -1) {
                    sparse.nextDoc();
                }
                count = 0;
                while (count < wanted && sparse.docID() != NO_MORE_DOCS) {
                    blockDocs[count++] = sparse.docID();
                    sparse.nextDoc();
                }
            }
            if (count <= 0) {
                return false;
            }
            final int within;
            if (words != null) {
                int perCode = codes.wordsPerCode();
                if (nextPosition % codes.codesPerBlock() == 0 && nextPosition + count == codes.blockEnd(nextPosition)) {
                    // A whole block: its word planes lie back to back, one read.
                    in.seek(codes.wordOffset(nextPosition, 0));
                    in.readLongs(words, 0, count * perCode);
                } else {
                    // Part of a block (after an advance): each word plane's part on its own.
                    for (int word = 0; word < perCode; word++) {
                        in.seek(codes.wordOffset(nextPosition, word));
                        in.readLongs(words, word * count, count);
                    }
                }
                within = kernel.distancesWithin(words, count, bound, distances);
            } else {
                in.seek(codes.wordOffset(nextPosition, 0)); // one word per code: the codes back to back
                in.readBytes(bytes, 0, count * bytesPerCode);
                within = kernel.distancesWithin(bytes, count, bound, distances);
            }
            // Compact only blocks with a match: once a top-k search has a tight bound most blocks have
            // none. Compacting every block cost about as much as the distances themselves (bench/RESULTS.md).
            if (within > 0) {
                final int[] d = distances;
                final int b = bound;
                final int[] m = matches;
                int n = 0;
                for (int i = 0; i < count; i++) {
                    m[n] = i;
                    n += d[i] <= b ? 1 : 0;
                }
            }
            matchCount = within;
            blockStart = nextPosition;
            blockCount = count;
            next = 0;
            nextPosition += count;
            return true;
        }

        @Override
        public long cost() {
            return codes.count();
        }
    }

    /**
     * A scan whose first pass from the start runs in ranges at once (see {@link #firstPassInRanges});
     * it follows whichever iterator answers: the ranges' list, or the lazy scan.
     */
    static final class InRanges extends HammingIterator {
        private final HammingIterator scan;
        private final LeafReader reader;
        private final String field;
        private final TaskExecutor executor;
        private final int ranges;
        private final int cap;
        private HammingIterator current;

        InRanges(HammingIterator scan, LeafReader reader, String field, TaskExecutor executor, int ranges, int cap) {
            super(scan.kernel, scan.bound);
            this.scan = scan;
            this.reader = reader;
            this.field = field;
            this.executor = executor;
            this.ranges = ranges;
            this.cap = cap;
            decided(scan.decision());
        }

        @Override
        public int nextDoc() throws IOException {
            if (current == null) {
                current = doc == -1 ? firstPass() : scan;
            }
            current.lowerBound(bound);
            return follow(current.nextDoc());
        }

        @Override
        public int advance(int target) throws IOException {
            if (current == null) {
                current = scan;
            }
            current.lowerBound(bound);
            return follow(current.advance(target));
        }

        private int follow(int next) {
            distance = current.distance();
            return doc = next;
        }

        /** The matches found in ranges, or the lazy scan where there are more than {@code cap}. */
        private HammingIterator firstPass() throws IOException {
            int maxDoc = reader.maxDoc();
            AtomicInteger seen = new AtomicInteger();
            AtomicBoolean tooMany = new AtomicBoolean();
            List<Callable<MultiIndexSearch.Candidates>> tasks = new ArrayList<>(ranges);
            for (int r = 0; r < ranges; r++) {
                int from = rangeStart(maxDoc, r, ranges);
                int to = rangeStart(maxDoc, r + 1, ranges);
                tasks.add(() -> range(from, to, seen, tooMany));
            }
            List<MultiIndexSearch.Candidates> found = executor.invokeAll(tasks);
            if (tooMany.get()) {
                decided(scan.decision() + " (more than " + cap + " matches for ranges: alone)");
                return scan;
            }
            MultiIndexSearch.Candidates all = new MultiIndexSearch.Candidates();
            for (MultiIndexSearch.Candidates c : found) {
                all.addAll(c, 0);
            }
            decided(scan.decision() + " (in " + ranges + " ranges)");
            return new Listed(kernel, bound, all);
        }

        /** The matches among documents {@code [from, to)}, or null once all ranges together passed {@code cap}. */
        private MultiIndexSearch.Candidates range(int from, int to, AtomicInteger seen, AtomicBoolean tooMany) throws IOException {
            MultiIndexSearch.Candidates found = new MultiIndexSearch.Candidates();
            HammingIterator it = open(reader, field, kernel, bound);
            for (int d = it.advance(from); d < to; d = it.nextDoc()) {
                found.add(d, it.distance());
                if ((found.size & 1023) == 0 && (tooMany.get() || seen.addAndGet(1024) > cap)) {
                    tooMany.set(true);
                    return null;
                }
            }
            return found;
        }

        @Override
        public long cost() {
            return scan.cost();
        }
    }

    /** Documents found beforehand (by the multi-index tables), in document order with their distances. */
    static final class Listed extends HammingIterator {
        private final MultiIndexSearch.Candidates found;
        private int next;

        Listed(HammingKernel kernel, int bound, MultiIndexSearch.Candidates found) {
            super(kernel, bound);
            this.found = found;
        }

        @Override
        public int nextDoc() {
            while (next < found.size) {
                int i = next++;
                if (found.distances[i] <= bound) {
                    distance = found.distances[i];
                    return doc = found.docs[i];
                }
            }
            return doc = NO_MORE_DOCS;
        }

        @Override
        public int advance(int target) {
            while (next < found.size && found.docs[next] < target) {
                next++;
            }
            return nextDoc();
        }

        @Override
        public long cost() {
            return found.size;
        }
    }

    /** Plain {@link BinaryDocValues}, one document at a time: indices not written with the format. */
    static final class OneByOne extends HammingIterator {
        private final String field;
        private final BinaryDocValues values;
        private final int bytesPerCode;

        OneByOne(String field, BinaryDocValues values, HammingKernel kernel, int bound) {
            super(kernel, bound);
            this.field = field;
            this.values = values;
            this.bytesPerCode = kernel.bits() / 8;
        }

        @Override
        public int nextDoc() throws IOException {
            return matchFrom(values.nextDoc());
        }

        @Override
        public int advance(int target) throws IOException {
            return matchFrom(values.advance(target));
        }

        private int matchFrom(int candidate) throws IOException {
            for (; candidate != NO_MORE_DOCS; candidate = values.nextDoc()) {
                BytesRef code = values.binaryValue();
                if (code.length != bytesPerCode) {
                    checkWidth(field, code.length, kernel);
                }
                int d = kernel.distance(code.bytes, code.offset);
                if (d <= bound) {
                    distance = d;
                    return doc = candidate;
                }
            }
            return doc = NO_MORE_DOCS;
        }

        @Override
        public long cost() {
            return values.cost();
        }
    }
}
