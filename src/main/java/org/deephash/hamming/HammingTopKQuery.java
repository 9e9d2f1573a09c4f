package org.deephash.hamming;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;
import org.apache.lucene.util.Bits;
import org.deephash.codec.FixedBitsCodes;
import org.deephash.codec.FixedBitsValues;
import org.deephash.codec.MultiIndexTable;
import org.deephash.compat.LeafScorer;
import org.deephash.compat.LeafWeight;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * The {@code k} codes of an index (a shard) nearest to a query code, within {@code maxDistance}: ties
 * broken by document, as Lucene's top-hits collector breaks them, so that the hits are the ones a
 * ranking of every document would put first. Only those documents match.
 *
 * <p>They are found when the query is rewritten against a searcher, on the searcher's executor: each
 * segment with multi-index tables first tries them (widening the radius until {@code k} codes lie
 * within it), and the segments where the tables would cost more than a scan are scanned, a large
 * segment in as many ranges as there are processors, so that one query on one segment uses every core
 * the executor has. The rewritten query belongs to that searcher's reader and to no other.
 */
public final class HammingTopKQuery extends Query {
    private final String field;
    private final HashCode code;
    private final int maxDistance;
    private final int k;
    private final SearchStrategy strategy;
    private final CostModel cost;

    public HammingTopKQuery(String field, HashCode code, int maxDistance, int k, SearchStrategy strategy, CostModel cost) {
        HammingQuery.checkMaxDistance(maxDistance, code);
        if (k < 1) {
            throw new IllegalArgumentException("[k] must be at least 1 but was [" + k + "]");
        }
        this.field = Objects.requireNonNull(field);
        this.code = code;
        this.maxDistance = maxDistance;
        this.k = k;
        this.strategy = Objects.requireNonNull(strategy);
        this.cost = Objects.requireNonNull(cost);
    }

    /** One segment's (or one range's) nearest codes, and how they were found. */
    private record Found(int leaf, MultiIndexSearch.Candidates candidates, String decision) {}

    @Override
    public Query rewrite(IndexSearcher searcher) throws IOException {
        IndexReader reader = searcher.getIndexReader();
        List<LeafReaderContext> leaves = reader.leaves();
        List<Callable<Found>> byTables = new ArrayList<>();
        for (LeafReaderContext leaf : leaves) {
            byTables.add(() -> byTables(leaf));
        }
        List<Found> found = new ArrayList<>();
        List<Callable<Found>> scans = new ArrayList<>();
        for (Found f : searcher.getTaskExecutor().invokeAll(byTables)) {
            if (f.candidates() != null) {
                found.add(f);
            } else {
                LeafReaderContext leaf = leaves.get(f.leaf());
                int maxDoc = leaf.reader().maxDoc();
                int ranges = HammingIterator.scanRanges(maxDoc);
                for (int r = 0; r < ranges; r++) {
                    int from = HammingIterator.rangeStart(maxDoc, r, ranges);
                    int to = HammingIterator.rangeStart(maxDoc, r + 1, ranges);
                    String decision = f.decision() + (ranges > 1 ? " (in " + ranges + " ranges)" : "");
                    scans.add(() -> scan(leaf, from, to, decision));
                }
            }
        }
        found.addAll(searcher.getTaskExecutor().invokeAll(scans));

        MultiIndexSearch.Candidates all = new MultiIndexSearch.Candidates();
        // One line per segment: the ranges of a scanned segment say the same.
        Set<String> decisions = new LinkedHashSet<>();
        for (Found f : found) {
            all.addAll(f.candidates(), leaves.get(f.leaf()).docBase);
            decisions.add("segment " + f.leaf() + ": " + f.decision());
        }
        all.keepNearest(k, maxDistance);
        return new Matches(this, Arrays.copyOf(all.docs, all.size), Arrays.copyOf(all.distances, all.size), List.copyOf(decisions), reader.getContext().id());
    }

    /** The segment's nearest codes by its tables, or no candidates (and why) where it is to be scanned. */
    private Found byTables(LeafReaderContext leaf) throws IOException {
        int ord = leaf.ord;
        if (strategy == SearchStrategy.SCAN) {
            return new Found(ord, null, "scan: asked for");
        }
        BinaryDocValues values = leaf.reader().getBinaryDocValues(field);
        if (values instanceof FixedBitsValues == false) {
            return new Found(ord, null, "scan: " + (values == null ? "no codes" : "the field is not in the plugin's format here"));
        }
        FixedBitsCodes codes = ((FixedBitsValues) values).fixedBitsCodes();
        MultiIndexTable table = codes.multiIndex();
        if (table == null) {
            return new Found(ord, null, "scan: no multi-index tables in this segment");
        }
        HammingKernel kernel = HammingKernel.forCode(code);
        HammingIterator.checkWidth(field, codes.bytesPerCode(), kernel);
        MultiIndexSearch search = new MultiIndexSearch(table, codes, kernel, code.bytes(), leaf.reader().maxDoc(), cost);
        // The scan it is weighed against runs in ranges on every processor: its time is the share of one.
        double scanTime = cost.scan(codes.count(), codes.bytesPerCode()) / HammingIterator.scanRanges(leaf.reader().maxDoc());
        MultiIndexSearch.Candidates nearest = search.topK(k, maxDistance, leaf.reader().getLiveDocs(), scanTime, strategy == SearchStrategy.INDEX);
        return new Found(ord, nearest, search.decision());
    }

    /**
     * The nearest live codes of documents {@code [from, to)} of a segment by a scan: the bound tightens
     * to the smallest distance within which {@code k} codes have been seen, and the scan skips farther ones.
     */
    private Found scan(LeafReaderContext leaf, int from, int to, String decision) throws IOException {
        MultiIndexSearch.Candidates found = new MultiIndexSearch.Candidates();
        HammingIterator it = HammingIterator.open(leaf.reader(), field, HammingKernel.forCode(code), maxDistance);
        if (it == null) {
            return new Found(leaf.ord, found, decision);
        }
        Bits live = leaf.reader().getLiveDocs();
        int[] atDistance = new int[code.bits() + 1];
        int bound = maxDistance;
        int within = 0;
        for (int doc = it.advance(from); doc < to; doc = it.nextDoc()) {
            if (live != null && live.get(doc) == false) {
                continue;
            }
            int d = it.distance();
            found.add(doc, d);
            atDistance[d]++;
            within++;
            while (bound > 0 && within - atDistance[bound] >= k) {
                within -= atDistance[bound];
                bound--;
                it.lowerBound(bound);
            }
            if (found.size > 2 * k + 1024) {
                found.keepWithin(bound);
            }
        }
        found.keepNearest(k, bound);
        return new Found(leaf.ord, found, decision);
    }

    @Override
    public void visit(QueryVisitor visitor) {
        if (visitor.acceptField(field)) {
            visitor.visitLeaf(this);
        }
    }

    @Override
    public String toString(String defaultField) {
        return "hamming_top_k(" + field + ":" + code.toHex() + ", k=" + k + (maxDistance < code.bits() ? ", max_distance=" + maxDistance : "")
            + (strategy == SearchStrategy.AUTO ? "" : ", strategy=" + strategy.jsonName()) + ")";
    }

    @Override
    public boolean equals(Object other) {
        if (sameClassAs(other) == false) {
            return false;
        }
        HammingTopKQuery that = (HammingTopKQuery) other;
        return field.equals(that.field) && code.equals(that.code) && maxDistance == that.maxDistance && k == that.k && strategy == that.strategy
            && cost.equals(that.cost);
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), field, code, maxDistance, k, strategy, cost);
    }

    /** The rewritten query: the documents found, in document order, with their distances. */
    static final class Matches extends Query {
        private final HammingTopKQuery query;
        private final int[] docs;
        private final int[] distances;
        private final List<String> decisions;
        private final Object readerId;

        Matches(HammingTopKQuery query, int[] docs, int[] distances, List<String> decisions, Object readerId) {
            this.query = query;
            this.docs = docs;
            this.distances = distances;
            this.decisions = decisions;
            this.readerId = readerId;
        }

        @Override
        public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) {
            if (searcher.getIndexReader().getContext().id() != readerId) {
                throw new IllegalStateException("the [hamming] top-k query was rewritten against another reader");
            }
            int bits = query.code.bits();
            return new LeafWeight(this) {
                @Override
                protected Scorer leafScorer(LeafReaderContext context) {
                    int lo = lowerBound(context.docBase);
                    int hi = lowerBound(context.docBase + context.reader().maxDoc());
                    if (lo == hi) {
                        return null;
                    }
                    return new ListScorer(this, context.docBase, lo, hi, boost, bits);
                }

                @Override
                public Explanation explain(LeafReaderContext context, int doc) {
                    int i = Arrays.binarySearch(docs, context.docBase + doc);
                    String how = "found by " + String.join("; ", decisions);
                    if (i < 0) {
                        return Explanation.noMatch("not among the " + query.k + " codes of field [" + query.field + "] nearest to the query code; " + how);
                    }
                    return HammingQuery.explainMatch(boost, distances[i], bits, query.field, ", one of the " + query.k + " nearest codes", how);
                }

                @Override
                public boolean isCacheable(LeafReaderContext context) {
                    return false;
                }
            };
        }

        private int lowerBound(int doc) {
            int i = Arrays.binarySearch(docs, doc);
            return i >= 0 ? i : -i - 1;
        }

        private final class ListScorer extends LeafScorer {
            private final int docBase;
            private final int lo;
            private final int hi;
            private final float boost;
            private final int bits;
            private int at;

            ListScorer(Weight weight, int docBase, int lo, int hi, float boost, int bits) {
                super(weight);
                this.docBase = docBase;
                this.lo = lo;
                this.hi = hi;
                this.boost = boost;
                this.bits = bits;
                this.at = lo - 1;
            }

            @Override
            public DocIdSetIterator iterator() {
                return new DocIdSetIterator() {
                    @Override
                    public int docID() {
                        return ListScorer.this.docID();
                    }

                    @Override
                    public int nextDoc() {
                        at++;
                        return docID();
                    }

                    @Override
                    public int advance(int target) {
                        int from = Math.max(at + 1, lo);
                        int i = from >= hi ? hi : Arrays.binarySearch(docs, from, hi, docBase + target);
                        at = i >= 0 ? i : -i - 1;
                        return docID();
                    }

                    @Override
                    public long cost() {
                        return hi - lo;
                    }
                };
            }

            @Override
            public int docID() {
                return at < lo ? -1 : at >= hi ? DocIdSetIterator.NO_MORE_DOCS : docs[at] - docBase;
            }

            @Override
            public float score() {
                return HammingQuery.score(boost, distances[at], bits);
            }

            @Override
            public float getMaxScore(int upTo) {
                return boost;
            }
        }

        @Override
        public void visit(QueryVisitor visitor) {
            visitor.visitLeaf(this);
        }

        /** What the profile API shows: how many were found, and how many segments each way. */
        @Override
        public String toString(String field) {
            long byTables = decisions.stream().filter(d -> d.contains(": multi_index")).count();
            return query.toString(field) + "[" + docs.length + " found; segments: " + byTables + " by multi_index, "
                + (decisions.size() - byTables) + " by scan]";
        }

        @Override
        public boolean equals(Object other) {
            return sameClassAs(other) && query.equals(((Matches) other).query) && readerId == ((Matches) other).readerId
                && Arrays.equals(docs, ((Matches) other).docs);
        }

        @Override
        public int hashCode() {
            return Objects.hash(classHash(), query, readerId, Arrays.hashCode(docs));
        }
    }
}
