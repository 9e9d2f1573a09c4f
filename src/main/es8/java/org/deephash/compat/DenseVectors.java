package org.deephash.compat;

import org.apache.lucene.search.Query;
import org.elasticsearch.index.mapper.vectors.DenseVectorFieldMapper.DenseVectorFieldType;
import org.elasticsearch.search.vectors.VectorData;

/** Elasticsearch's {@code dense_vector} queries. */
public final class DenseVectors {
    private DenseVectors() {}

    /**
     * Scores every document by its indexed vector's similarity to {@code vector}: no approximation, no threshold.
     * The oversample only says "rescore": on a quantized field (the default {@code int8_hnsw}, bbq) the score is then
     * the similarity of the full-precision floats, not of the quantized vectors (without it, a re-ranked score was
     * off by up to 1e-2 of the true 1 / (1 + d^2)); on a float field the exact query is returned as it is.
     */
    public static Query exactQuery(DenseVectorFieldType type, float[] vector) {
        return type.createExactKnnQuery(VectorData.fromFloats(vector), null, 1f);
    }
}
