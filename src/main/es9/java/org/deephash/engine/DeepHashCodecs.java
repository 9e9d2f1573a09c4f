package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

import java.util.function.Function;

/**
 * The codecs Elasticsearch 9.1 writes new segments with, and the {@link DeepHashCodec} for each:
 * {@code default} is Lucene101, {@code best_compression} Elasticsearch900Lucene101. Segments written on
 * 8.19 keep their codecs' names, DeepHash912 and DeepHash816, and are read through those classes here.
 */
final class DeepHashCodecs {
    /** The codec {@code index.codec: default} writes new segments with on this line, and the plugin's codec around it. */
    static final String DEFAULT = DeepHash101Codec.WRAPS;
    static final String DEFAULT_WRAPPED = DeepHash101Codec.NAME;

    private DeepHashCodecs() {}

    /** {@code codec} with binary_hash fields in the plugin's format, or null where it is not one of the codecs named here. */
    static Codec wrap(Codec codec, Function<String, FieldSpec> hashFields) {
        return switch (codec.getName()) {
            case DeepHash101Codec.WRAPS -> new DeepHash101Codec(codec, hashFields);
            case DeepHash900Codec.WRAPS -> new DeepHash900Codec(codec, hashFields);
            default -> null;
        };
    }
}
