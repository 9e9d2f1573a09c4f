package org.deephash.query;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;
import org.apache.lucene.util.BytesRef;
import org.deephash.compat.LeafScorer;
import org.deephash.compat.LeafWeight;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.index.mapper.vectors.VectorEncoderDecoder;

import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

/**
 * Scores every document that has a vector in a {@code dense_vector} field mapped with
 * {@code index: false} (Elasticsearch keeps such vectors in binary doc values) by its Euclidean
 * distance d to a query vector: {@code 1 / (1 + d^2)}, the score Elasticsearch gives {@code l2_norm}.
 * Lin et al. re-rank by Euclidean distance; an indexed field is scored by its own similarity instead.
 */
final class StoredVectorScoreQuery extends Query {
    private final String field;
    private final float[] vector;
    private final IndexVersion indexVersion;

    StoredVectorScoreQuery(String field, float[] vector, IndexVersion indexVersion) {
        this.field = Objects.requireNonNull(field);
        this.vector = vector;
        this.indexVersion = indexVersion;
    }

    @Override
    public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) {
        return new LeafWeight(this) {
            @Override
            protected Scorer leafScorer(LeafReaderContext context) throws IOException {
                BinaryDocValues values = context.reader().getBinaryDocValues(field);
                if (values == null) {
                    return null;
                }
                float[] scratch = new float[vector.length];
                return new LeafScorer(this) {
                    @Override
                    public int docID() {
                        return values.docID();
                    }

                    @Override
                    public org.apache.lucene.search.DocIdSetIterator iterator() {
                        return values;
                    }

                    @Override
                    public float getMaxScore(int upTo) {
                        return boost;
                    }

                    @Override
                    public float score() throws IOException {
                        return boost * similarity(squaredDistance(values.binaryValue(), scratch));
                    }
                };
            }

            @Override
            public Explanation explain(LeafReaderContext context, int doc) throws IOException {
                BinaryDocValues values = context.reader().getBinaryDocValues(field);
                if (values == null || values.advanceExact(doc) == false) {
                    return Explanation.noMatch("no vector in [" + field + "]");
                }
                double d2 = squaredDistance(values.binaryValue(), new float[vector.length]);
                return Explanation.match(
                    boost * similarity(d2),
                    "1 / (1 + d^2), d = " + (float) Math.sqrt(d2) + ": Euclidean distance between the query vector and [" + field + "]"
                );
            }

            @Override
            public boolean isCacheable(LeafReaderContext ctx) {
                return false;
            }
        };
    }

    private static float similarity(double squaredDistance) {
        return (float) (1.0 / (1.0 + squaredDistance));
    }

    private double squaredDistance(BytesRef encoded, float[] scratch) {
        int dims = VectorEncoderDecoder.denseVectorLength(indexVersion, encoded);
        if (dims != vector.length) {
            throw new IllegalArgumentException(
                "[rerank] field [" + field + "] holds vectors of [" + dims + "] dimensions but the query vector has [" + vector.length + "]"
            );
        }
        VectorEncoderDecoder.decodeDenseVector(indexVersion, encoded, scratch);
        double sum = 0;
        for (int i = 0; i < scratch.length; i++) {
            double diff = scratch[i] - vector[i];
            sum += diff * diff;
        }
        return sum;
    }

    @Override
    public void visit(QueryVisitor visitor) {
        if (visitor.acceptField(field)) {
            visitor.visitLeaf(this);
        }
    }

    @Override
    public String toString(String f) {
        return "l2(" + field + ", " + vector.length + " dims)";
    }

    @Override
    public boolean equals(Object o) {
        return sameClassAs(o) && field.equals(((StoredVectorScoreQuery) o).field) && Arrays.equals(vector, ((StoredVectorScoreQuery) o).vector);
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), field, Arrays.hashCode(vector));
    }
}
