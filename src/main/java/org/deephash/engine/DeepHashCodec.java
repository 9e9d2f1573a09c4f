package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.DocValuesFormat;
import org.apache.lucene.codecs.FilterCodec;
import org.apache.lucene.codecs.perfield.PerFieldDocValuesFormat;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.elasticsearch.index.codec.perfield.XPerFieldDocValuesFormat;

import java.util.function.Function;

/**
 * Elasticsearch's codec for an index, except that {@code binary_hash} fields get
 * {@link FixedBitsDocValuesFormat}. Every other field keeps the doc-values format the wrapped codec
 * chooses, and postings, vectors, stored fields and the rest are the wrapped codec's own.
 *
 * <p>Why a wrapper and not {@code index.codec}: a codec picked by name replaces Elasticsearch's
 * per-field choices (dense_vector formats, completion postings, the _id bloom filter) for the whole
 * index. Each subclass has a public no-arg constructor for Lucene's SPI, which reads segments by
 * codec name and writes doc-values updates (soft deletes) into segments loaded from disk; reading
 * needs no routing, since each field records its format's name.
 */
public abstract class DeepHashCodec extends FilterCodec {
    private final DocValuesFormat docValuesFormat;

    /** @param hashFields what the format needs of a {@code binary_hash} field; {@link FieldSpec#UNKNOWN} for every other field */
    protected DeepHashCodec(String name, Codec delegate, Function<String, FieldSpec> hashFields) {
        super(name, delegate);
        FixedBitsDocValuesFormat fixedBits = new FixedBitsDocValuesFormat(hashFields);
        DocValuesFormat base = delegate.docValuesFormat();
        // Same per-field class as the delegate's: both record the field's format under the same attribute.
        if (base instanceof XPerFieldDocValuesFormat perField) {
            Function<String, DocValuesFormat> route = route(hashFields, fixedBits, perField::getDocValuesFormatForField);
            docValuesFormat = new XPerFieldDocValuesFormat() {
                @Override
                public DocValuesFormat getDocValuesFormatForField(String field) {
                    return route.apply(field);
                }
            };
        } else if (base instanceof PerFieldDocValuesFormat perField) {
            Function<String, DocValuesFormat> route = route(hashFields, fixedBits, perField::getDocValuesFormatForField);
            docValuesFormat = new PerFieldDocValuesFormat() {
                @Override
                public DocValuesFormat getDocValuesFormatForField(String field) {
                    return route.apply(field);
                }
            };
        } else {
            throw new IllegalArgumentException(
                "codec [" + delegate.getName() + "] has no per-field doc values format ([" + base.getName() + "]), so [binary_hash] fields cannot be routed"
            );
        }
    }

    /** binary_hash fields to the plugin's format, every other field where the wrapped codec sends it. */
    private static Function<String, DocValuesFormat> route(
        Function<String, FieldSpec> hashFields,
        DocValuesFormat fixedBits,
        Function<String, DocValuesFormat> original
    ) {
        return field -> hashFields.apply(field).bytesPerCode() > 0 ? fixedBits : original.apply(field);
    }

    @Override
    public final DocValuesFormat docValuesFormat() {
        return docValuesFormat;
    }
}
