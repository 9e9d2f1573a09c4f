package org.deephash.hamming;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TaskExecutor;
import org.apache.lucene.search.Weight;
import org.apache.lucene.util.BytesRef;
import org.deephash.compat.LeafScorer;
import org.deephash.compat.LeafWeight;

import java.io.IOException;
import java.util.Objects;

/**
 * Matches the documents whose code in {@code field} lies within {@code maxDistance} bits of a query
 * code, scoring each {@code boost * (1 - d / bits)} so that a closer code always scores higher.
 *
 * <p>Every document with a code is a candidate (an exact search). When the collector only needs the
 * top hits it raises the minimum competitive score; the scorer turns that score into the largest
 * distance that can still enter the top hits and rejects farther codes from then on.
 *
 * <p>A segment is searched by its multi-index tables or scanned, whichever the cost model finds cheaper.
 * With a radius, a large scanned segment that is read from its start is scanned in ranges on the
 * searcher's executor, one per processor ({@link HammingIterator#firstPassInRanges}).
 */
public final class HammingQuery extends Query {
    private final String field;
    private final HashCode code;
    private final int maxDistance;
    private final SearchStrategy strategy;
    private final CostModel cost;

    /**
     * @param maxDistance the largest distance that matches, from 0 to the code's bits; the code's bits
     *                    to match every document with a code
     */
    public HammingQuery(String field, HashCode code, int maxDistance) {
        this(field, code, maxDistance, SearchStrategy.AUTO, CostModel.DEFAULT);
    }

    public HammingQuery(String field, HashCode code, int maxDistance, SearchStrategy strategy, CostModel cost) {
        checkMaxDistance(maxDistance, code);
        this.field = Objects.requireNonNull(field);
        this.code = code;
        this.maxDistance = maxDistance;
        this.strategy = Objects.requireNonNull(strategy);
        this.cost = Objects.requireNonNull(cost);
    }

    public SearchStrategy strategy() {
        return strategy;
    }

    public String field() {
        return field;
    }

    public HashCode code() {
        return code;
    }

    public int maxDistance() {
        return maxDistance;
    }

    static void checkMaxDistance(int maxDistance, HashCode code) {
        if (maxDistance < 0 || maxDistance > code.bits()) {
            throw new IllegalArgumentException("[max_distance] must be between 0 and " + code.bits() + " but was [" + maxDistance + "]");
        }
    }

    /** The hamming distance as explain words it. */
    static String describeDistance(int d, int bits, String field) {
        return "hamming distance " + d + " of " + bits + " bits between the query code and field [" + field + "]";
    }

    /** A match's explanation: the formula and its parts, then {@code how} (which way the segment was searched). */
    static Explanation explainMatch(float boost, int d, int bits, String field, String formulaNote, String how) {
        return Explanation.match(
            score(boost, d, bits),
            "score = boost * (1 - distance / bits)" + formulaNote + ", from:",
            Explanation.match(boost, "boost"),
            Explanation.match(d, describeDistance(d, bits, field)),
            Explanation.match(bits, "bits"),
            Explanation.match(0, how)
        );
    }

    /** The score of a document at distance {@code d}; the single place the formula lives. */
    static float score(float boost, int d, int bits) {
        return boost * (1f - (float) d / bits);
    }

    @Override
    public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) {
        final int bits = code.bits();
        final float[] scoreByDistance = new float[bits + 1];
        for (int d = 0; d <= bits; d++) {
            scoreByDistance[d] = score(boost, d, bits);
        }
        final TaskExecutor executor = searcher.getTaskExecutor();
        return new LeafWeight(this) {
            @Override
            protected Scorer leafScorer(LeafReaderContext context) throws IOException {
                HammingIterator iterator = HammingIterator.open(context.reader(), field, code, HammingKernel.forCode(code), maxDistance, strategy, cost);
                if (iterator == null) {
                    return null;
                }
                iterator = HammingIterator.firstPassInRanges(iterator, context.reader(), field, executor);
                return new HammingScorer(this, iterator, scoreByDistance);
            }

            @Override
            public Explanation explain(LeafReaderContext context, int doc) throws IOException {
                BinaryDocValues values = context.reader().getBinaryDocValues(field);
                if (values == null || values.advanceExact(doc) == false) {
                    return Explanation.noMatch("document has no code in field [" + field + "]");
                }
                BytesRef value = values.binaryValue();
                if (value.length * 8 != bits) {
                    return Explanation.noMatch("field [" + field + "] holds a code of " + value.length * 8 + " bits, the query " + bits);
                }
                int d = HammingKernel.forCode(code).distance(value.bytes, value.offset);
                if (d > maxDistance) {
                    return Explanation.noMatch(describeDistance(d, bits, field) + " exceeds max_distance " + maxDistance);
                }
                HammingIterator segment = HammingIterator.open(context.reader(), field, code, HammingKernel.forCode(code), maxDistance, strategy, cost);
                return explainMatch(boost, d, bits, field, "", "segment searched by " + segment.decision());
            }

            @Override
            public boolean isCacheable(LeafReaderContext context) {
                return DocValues.isCacheable(context, field);
            }
        };
    }

    /** Scores the documents of one segment; see the class comment for the pruning. */
    static final class HammingScorer extends LeafScorer {
        private final HammingIterator iterator;
        private final float[] scoreByDistance;
        private int competitiveBound;

        HammingScorer(Weight weight, HammingIterator iterator, float[] scoreByDistance) {
            super(weight);
            this.iterator = iterator;
            this.scoreByDistance = scoreByDistance;
            this.competitiveBound = scoreByDistance.length - 1;
        }

        @Override
        public int docID() {
            return iterator.docID();
        }

        @Override
        public DocIdSetIterator iterator() {
            return iterator;
        }

        @Override
        public float score() {
            return scoreByDistance[iterator.distance()];
        }

        @Override
        public float getMaxScore(int upTo) {
            return scoreByDistance[0];
        }

        @Override
        public void setMinCompetitiveScore(float minScore) {
            // scoreByDistance never increases with d, and minScore never decreases: walk the bound down.
            while (competitiveBound >= 0 && scoreByDistance[competitiveBound] < minScore) {
                competitiveBound--;
            }
            iterator.lowerBound(competitiveBound);
        }
    }

    @Override
    public void visit(QueryVisitor visitor) {
        if (visitor.acceptField(field)) {
            visitor.visitLeaf(this);
        }
    }

    @Override
    public String toString(String defaultField) {
        return "hamming(" + field + ":" + code.toHex() + (maxDistance < code.bits() ? ", max_distance=" + maxDistance : "")
            + (strategy == SearchStrategy.AUTO ? "" : ", strategy=" + strategy.jsonName()) + ")";
    }

    @Override
    public boolean equals(Object other) {
        return sameClassAs(other)
            && field.equals(((HammingQuery) other).field)
            && code.equals(((HammingQuery) other).code)
            && maxDistance == ((HammingQuery) other).maxDistance
            && strategy == ((HammingQuery) other).strategy
            && cost.equals(((HammingQuery) other).cost);
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), field, code, maxDistance, strategy, cost);
    }
}
