package org.deephash.mapper;

import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.SortField;
import org.elasticsearch.common.util.BigArrays;
import org.elasticsearch.core.Nullable;
import org.elasticsearch.index.fielddata.FieldData;
import org.elasticsearch.index.fielddata.IndexFieldData;
import org.elasticsearch.index.fielddata.IndexFieldData.XFieldComparatorSource.Nested;
import org.elasticsearch.index.fielddata.IndexFieldDataCache;
import org.elasticsearch.index.fielddata.LeafFieldData;
import org.elasticsearch.index.fielddata.SortedBinaryDocValues;
import org.elasticsearch.indices.breaker.CircuitBreakerService;
import org.elasticsearch.script.field.BinaryDocValuesField;
import org.elasticsearch.script.field.DocValuesScriptFieldFactory;
import org.elasticsearch.search.DocValueFormat;
import org.elasticsearch.search.MultiValueMode;
import org.elasticsearch.search.aggregations.support.CoreValuesSourceType;
import org.elasticsearch.search.aggregations.support.ValuesSourceType;
import org.elasticsearch.search.sort.BucketedSort;
import org.elasticsearch.search.sort.SortOrder;

import java.io.IOException;
import java.io.UncheckedIOException;

/** Doc-values access for {@code binary_hash} (docvalue_fields, scripts): one raw code per document. */
final class BinaryHashIndexFieldData implements IndexFieldData<LeafFieldData> {
    private final String fieldName;

    BinaryHashIndexFieldData(String fieldName) {
        this.fieldName = fieldName;
    }

    @Override
    public String getFieldName() {
        return fieldName;
    }

    @Override
    public ValuesSourceType getValuesSourceType() {
        return CoreValuesSourceType.KEYWORD;
    }

    @Override
    public LeafFieldData load(LeafReaderContext context) {
        final SortedBinaryDocValues values;
        try {
            values = FieldData.singleton(DocValues.getBinary(context.reader(), fieldName));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load doc values of [" + fieldName + "]", e);
        }
        return new LeafFieldData() {
            @Override
            public SortedBinaryDocValues getBytesValues() {
                return values;
            }

            @Override
            public DocValuesScriptFieldFactory getScriptFieldFactory(String name) {
                return new BinaryDocValuesField(values, name);
            }

            @Override
            public long ramBytesUsed() {
                return 0;
            }
        };
    }

    @Override
    public LeafFieldData loadDirect(LeafReaderContext context) {
        return load(context);
    }

    @Override
    public SortField sortField(@Nullable Object missingValue, MultiValueMode sortMode, Nested nested, boolean reverse) {
        throw new IllegalArgumentException("field [" + fieldName + "] of type [binary_hash] cannot be sorted on; sort by a hamming query's score");
    }

    @Override
    public BucketedSort newBucketedSort(
        BigArrays bigArrays,
        Object missingValue,
        MultiValueMode sortMode,
        Nested nested,
        SortOrder sortOrder,
        DocValueFormat format,
        int bucketSize,
        BucketedSort.ExtraData extra
    ) {
        throw new IllegalArgumentException("field [" + fieldName + "] of type [binary_hash] cannot be sorted on");
    }

    static final class Builder implements IndexFieldData.Builder {
        private final String name;

        Builder(String name) {
            this.name = name;
        }

        @Override
        public IndexFieldData<?> build(IndexFieldDataCache cache, CircuitBreakerService breakerService) {
            return new BinaryHashIndexFieldData(name);
        }
    }
}
