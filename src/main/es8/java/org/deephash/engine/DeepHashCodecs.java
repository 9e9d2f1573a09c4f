package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

import java.util.function.Function;

/**
 * The codecs Elasticsearch 8.19 writes new segments with, and the {@link DeepHashCodec} for each. Segments
 * keep their codec's name for good: Elasticsearch 9 reads these through its own DeepHash912 and DeepHash816.
 */
final class DeepHashCodecs {
    /** The codec {@code index.codec: default} writes new segments with on this line, and the plugin's codec around it. */
    static final String DEFAULT = DeepHash912Codec.WRAPS;
    static final String DEFAULT_WRAPPED = DeepHash912Codec.NAME;

    private DeepHashCodecs() {}

    /** {@code codec} with binary_hash fields in the plugin's format, or null where it is not one of the codecs named here. */
    static Codec wrap(Codec codec, Function<String, FieldSpec> hashFields) {
        return switch (codec.getName()) {
            case DeepHash912Codec.WRAPS -> new DeepHash912Codec(codec, hashFields);
            case DeepHash816Codec.WRAPS -> new DeepHash816Codec(codec, hashFields);
            default -> null;
        };
    }
}
