package org.deephash.engine;

import org.apache.lucene.backward_codecs.lucene912.Lucene912Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

/**
 * Reads the segments Elasticsearch 8.19 wrote with {@code default} and the plugin's codec
 * ({@code DeepHash912}, around Lucene912): found by name through SPI after an upgrade. New segments
 * are {@link DeepHash101Codec}'s; Lucene912 itself is read-only in Lucene 10, except for the doc-values
 * updates (soft deletes) that still go to old segments.
 */
public final class DeepHash912Codec extends DeepHashCodec {
    public static final String NAME = "DeepHash912";

    public DeepHash912Codec() {
        super(NAME, new Lucene912Codec(), field -> FieldSpec.UNKNOWN);
    }
}
