package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.elasticsearch.index.codec.Elasticsearch900Lucene101Codec;

import java.util.function.Function;

/** {@link DeepHashCodec} around Elasticsearch900Lucene101, the codec of Elasticsearch 9.1's {@code best_compression}. */
public final class DeepHash900Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash900L101";
    static final String WRAPS = "Elasticsearch900Lucene101";

    /** For SPI: reading, and doc-values updates of segments on disk. */
    public DeepHash900Codec() {
        this(new Elasticsearch900Lucene101Codec(), field -> FieldSpec.UNKNOWN);
    }

    DeepHash900Codec(Codec delegate, Function<String, FieldSpec> hashFields) {
        super(NAME, delegate, hashFields);
    }
}
