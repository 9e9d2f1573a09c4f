package org.deephash.engine;

import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.elasticsearch.index.codec.Elasticsearch816Codec;

/**
 * Reads the segments Elasticsearch 8.19 wrote with {@code best_compression} and the plugin's codec
 * ({@code DeepHash816}, around Elasticsearch816): found by name through SPI after an upgrade. New
 * segments are {@link DeepHash900Codec}'s.
 */
public final class DeepHash816Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash816";

    public DeepHash816Codec() {
        super(NAME, new Elasticsearch816Codec(), field -> FieldSpec.UNKNOWN);
    }
}
