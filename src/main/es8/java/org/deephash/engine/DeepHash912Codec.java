package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

import java.util.function.Function;

/** {@link DeepHashCodec} around Lucene912, the codec of Elasticsearch 8.19's {@code default}. */
public final class DeepHash912Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash912";
    static final String WRAPS = "Lucene912";

    /** For SPI: reading, and doc-values updates of segments on disk. */
    public DeepHash912Codec() {
        this(new Lucene912Codec(), field -> FieldSpec.UNKNOWN);
    }

    DeepHash912Codec(Codec delegate, Function<String, FieldSpec> hashFields) {
        super(NAME, delegate, hashFields);
    }
}
