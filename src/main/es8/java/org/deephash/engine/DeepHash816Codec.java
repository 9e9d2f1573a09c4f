package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.elasticsearch.index.codec.Elasticsearch816Codec;

import java.util.function.Function;

/** {@link DeepHashCodec} around Elasticsearch816, the codec of Elasticsearch 8.19's {@code best_compression}. */
public final class DeepHash816Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash816";
    static final String WRAPS = "Elasticsearch816";

    /** For SPI: reading, and doc-values updates of segments on disk. */
    public DeepHash816Codec() {
        this(new Elasticsearch816Codec(), field -> FieldSpec.UNKNOWN);
    }

    DeepHash816Codec(Codec delegate, Function<String, FieldSpec> hashFields) {
        super(NAME, delegate, hashFields);
    }
}
