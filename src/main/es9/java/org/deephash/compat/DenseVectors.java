package org.deephash.compat;

import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.KnnVectorValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.queries.function.FunctionScoreQuery;
import org.apache.lucene.search.DoubleValues;
import org.apache.lucene.search.DoubleValuesSource;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.elasticsearch.index.mapper.vectors.DenseVectorFieldMapper.DenseVectorFieldType;
import org.elasticsearch.search.vectors.VectorData;

import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

/** Elasticsearch's {@code dense_vector} queries. */
public final class DenseVectors {
    private DenseVectors() {}

    /**
     * Scores every document by its indexed vector's similarity to {@code vector}: no approximation, no threshold.
     * Elasticsearch 9.1's exact query scores through the field's format, which for the default {@code int8_hnsw}
     * (and bbq) compares quantized vectors; 8.19's took the full floats. The documents are the exact query's,
     * the score is the similarity of the full-precision floats, as on 8.19.
     */
    public static Query exactQuery(DenseVectorFieldType type, float[] vector) {
        Query exact = type.createExactKnnQuery(VectorData.fromFloats(vector), null);  // checks the vector against the mapping
        return new FunctionScoreQuery(exact, new FullPrecision(type.name(), vector));
    }

    /** Each document's score: the field's similarity function (as its segments record it) on the stored floats. */
    private static final class FullPrecision extends DoubleValuesSource {
        private final String field;
        private final float[] query;

        FullPrecision(String field, float[] query) {
            this.field = field;
            this.query = query;
        }

        @Override
        public DoubleValues getValues(LeafReaderContext context, DoubleValues scores) throws IOException {
            FieldInfo info = context.reader().getFieldInfos().fieldInfo(field);
            FloatVectorValues values = context.reader().getFloatVectorValues(field);
            if (info == null || values == null) {
                return DoubleValues.EMPTY;
            }
            VectorSimilarityFunction function = info.getVectorSimilarityFunction();
            // cosine is indexed as dot_product over unit vectors: the query goes unit length too, as Elasticsearch does.
            float[] target = function == VectorSimilarityFunction.DOT_PRODUCT ? unit(query) : query;
            KnnVectorValues.DocIndexIterator iterator = values.iterator();
            return new DoubleValues() {
                @Override
                public double doubleValue() throws IOException {
                    return function.compare(target, values.vectorValue(iterator.index()));
                }

                @Override
                public boolean advanceExact(int doc) throws IOException {
                    return doc >= iterator.docID() && (iterator.docID() == doc || iterator.advance(doc) == doc);
                }
            };
        }

        private static float[] unit(float[] v) {
            double norm = 0;
            for (float x : v) {
                norm += (double) x * x;
            }
            if (norm == 0 || Math.abs(norm - 1) < 1e-6) {
                return v;
            }
            float[] u = Arrays.copyOf(v, v.length);
            float length = (float) Math.sqrt(norm);
            for (int i = 0; i < u.length; i++) {
                u[i] /= length;
            }
            return u;
        }

        @Override
        public boolean needsScores() {
            return false;
        }

        @Override
        public DoubleValuesSource rewrite(IndexSearcher searcher) {
            return this;
        }

        @Override
        public boolean isCacheable(LeafReaderContext ctx) {
            return false;
        }

        @Override
        public int hashCode() {
            return Objects.hash(field, Arrays.hashCode(query));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof FullPrecision other && field.equals(other.field) && Arrays.equals(query, other.query);
        }

        @Override
        public String toString() {
            return "full-precision similarity to [" + field + "]";
        }
    }
}
