package org.deephash.hamming;

import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TwoPhaseIterator;
import org.apache.lucene.search.Weight;

import java.io.IOException;
import java.util.Objects;

/**
 * Matches the documents whose code in {@code field} lies within {@code maxDistance} bits of a query
 * code, scoring each {@code boost * (1 - d / bits)} so that a closer code always scores higher.
 *
 * <p>Every document with a code is a candidate (an exact search). When the collector only needs the
 * top hits it raises the minimum competitive score; the scorer turns that score into the largest
 * distance that can still enter the top hits and rejects farther codes from then on.
 */
public final class HammingQuery extends Query {
    private final String field;
    private final HashCode code;
    private final int maxDistance;

    /**
     * @param maxDistance the largest distance that matches, from 0 to the code's bits; the code's bits
     *                    to match every document with a code
     */
    public HammingQuery(String field, HashCode code, int maxDistance) {
        if (maxDistance < 0 || maxDistance > code.bits()) {
            throw new IllegalArgumentException("[max_distance] must be between 0 and " + code.bits() + " but was [" + maxDistance + "]");
        }
        this.field = Objects.requireNonNull(field);
        this.code = code;
        this.maxDistance = maxDistance;
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
        return new Weight(this) {
            @Override
            public Scorer scorer(LeafReaderContext context) throws IOException {
                CodeValues codes = CodeValues.open(context.reader(), field, bits);
                if (codes == null) {
                    return null;
                }
                return new HammingScorer(this, codes, HammingKernel.forCode(code), scoreByDistance, maxDistance);
            }

            @Override
            public Explanation explain(LeafReaderContext context, int doc) throws IOException {
                CodeValues codes = CodeValues.open(context.reader(), field, bits);
                if (codes == null || codes.iterator().advance(doc) != doc) {
                    return Explanation.noMatch("document has no code in field [" + field + "]");
                }
                int d = codes.distance(HammingKernel.forCode(code));
                String distance = "hamming distance " + d + " of " + bits + " bits between the query code and field [" + field + "]";
                if (d > maxDistance) {
                    return Explanation.noMatch(distance + " exceeds max_distance " + maxDistance);
                }
                return Explanation.match(
                    scoreByDistance[d],
                    "score = boost * (1 - distance / bits), from:",
                    Explanation.match(boost, "boost"),
                    Explanation.match(d, distance),
                    Explanation.match(bits, "bits")
                );
            }

            @Override
            public boolean isCacheable(LeafReaderContext context) {
                return DocValues.isCacheable(context, field);
            }
        };
    }

    /** Scores the documents of one segment; see the class comment for the pruning. */
    static final class HammingScorer extends Scorer {
        private final DocIdSetIterator approximation;
        private final TwoPhaseIterator twoPhase;
        private final float[] scoreByDistance;
        private int bound;
        private int distance;

        HammingScorer(Weight weight, CodeValues codes, HammingKernel kernel, float[] scoreByDistance, int maxDistance) {
            super(weight);
            this.approximation = codes.iterator();
            this.scoreByDistance = scoreByDistance;
            this.bound = maxDistance;
            this.twoPhase = new TwoPhaseIterator(approximation) {
                @Override
                public boolean matches() throws IOException {
                    distance = codes.distance(kernel);
                    return distance <= bound;
                }

                @Override
                public float matchCost() {
                    return kernel.bits() / 64f + 1;
                }
            };
        }

        @Override
        public int docID() {
            return approximation.docID();
        }

        @Override
        public DocIdSetIterator iterator() {
            return TwoPhaseIterator.asDocIdSetIterator(twoPhase);
        }

        @Override
        public TwoPhaseIterator twoPhaseIterator() {
            return twoPhase;
        }

        @Override
        public float score() {
            return scoreByDistance[distance];
        }

        @Override
        public float getMaxScore(int upTo) {
            return scoreByDistance[0];
        }

        @Override
        public void setMinCompetitiveScore(float minScore) {
            // scoreByDistance never increases with d, so the bound only moves down.
            while (bound >= 0 && scoreByDistance[bound] < minScore) {
                bound--;
            }
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
        return "hamming(" + field + ":" + code.toHex() + (maxDistance < code.bits() ? ", max_distance=" + maxDistance : "") + ")";
    }

    @Override
    public boolean equals(Object other) {
        return sameClassAs(other)
            && field.equals(((HammingQuery) other).field)
            && code.equals(((HammingQuery) other).code)
            && maxDistance == ((HammingQuery) other).maxDistance;
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), field, code, maxDistance);
    }
}
