package org.deephash.compat;

import org.apache.lucene.search.Query;
import org.elasticsearch.index.mapper.vectors.DenseVectorFieldMapper.DenseVectorFieldType;
import org.elasticsearch.search.vectors.VectorData;

/** Elasticsearch's {@code dense_vector} queries. */
public final class DenseVectors {
    private DenseVectors() {}

    /** Scores every document by its indexed vector's similarity to {@code vector}: no approximation, no threshold. */
    public static Query exactQuery(DenseVectorFieldType type, float[] vector) {
        return type.createExactKnnQuery(VectorData.fromFloats(vector), null, null);
    }
}
