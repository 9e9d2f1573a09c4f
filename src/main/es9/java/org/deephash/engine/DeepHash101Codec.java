package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.lucene101.Lucene101Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

import java.util.function.Function;

/** {@link DeepHashCodec} around Lucene101, the codec of Elasticsearch 9.1's {@code default}. */
public final class DeepHash101Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash101";
    static final String WRAPS = "Lucene101";

    /** For SPI: reading, and doc-values updates of segments on disk. */
    public DeepHash101Codec() {
        this(new Lucene101Codec(), field -> FieldSpec.UNKNOWN);
    }

    DeepHash101Codec(Codec delegate, Function<String, FieldSpec> hashFields) {
        super(NAME, delegate, hashFields);
    }
}
