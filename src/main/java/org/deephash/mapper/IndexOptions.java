package org.deephash.mapper;

import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.deephash.codec.MultiIndexTable;
import org.deephash.engine.DeepHashEngineFactory;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.Map;

/**
 * A {@code binary_hash} field's {@code index_options}: {@code {"type": "flat"}} (the default: the codes
 * alone, searched by a scan) or {@code {"type": "multi_index", "substrings": m}}: multi-index hashing
 * tables beside the codes in each segment, which the {@code hamming} query probes instead of scanning
 * when that is cheaper. Without {@code substrings}, m is chosen per segment from its size.
 *
 * @param substrings m, or 0 to choose it per segment; ignored for flat
 */
public record IndexOptions(boolean multiIndex, int substrings) {
    public static final IndexOptions FLAT = new IndexOptions(false, 0);
    static final String FLAT_TYPE = "flat";
    static final String MULTI_INDEX_TYPE = "multi_index";

    static IndexOptions parse(String field, Object value) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(
                "[index_options] on field [" + field + "] must be an object like {\"type\": \"multi_index\"} but was [" + value + "]"
            );
        }
        Object type = map.get("type");
        for (Object key : map.keySet()) {
            if ("type".equals(key) == false && "substrings".equals(key) == false) {
                throw new IllegalArgumentException(
                    "[index_options] on field [" + field + "] does not support [" + key + "]; it takes [type] and, for [multi_index], [substrings]"
                );
            }
        }
        if (FLAT_TYPE.equals(type)) {
            if (map.containsKey("substrings")) {
                throw new IllegalArgumentException("[index_options] on field [" + field + "]: [substrings] goes with [type] [multi_index], not [flat]");
            }
            return FLAT;
        }
        if (MULTI_INDEX_TYPE.equals(type) == false) {
            throw new IllegalArgumentException(
                "[index_options.type] on field [" + field + "] must be [flat] or [multi_index] but was [" + type + "]"
            );
        }
        Object substrings = map.get("substrings");
        if (substrings == null) {
            return new IndexOptions(true, 0);
        }
        if (substrings instanceof Number n && n.doubleValue() == n.intValue() && n.intValue() > 0) {
            return new IndexOptions(true, n.intValue());
        }
        throw new IllegalArgumentException(
            "[index_options.substrings] on field [" + field + "] must be a whole number of substrings from 1 to [bits] but was [" + substrings + "]"
        );
    }

    /** The rules that need the rest of the mapping and the index's settings. */
    void validate(String field, int bits, boolean pluginFormat) {
        if (multiIndex == false) {
            return;
        }
        if (pluginFormat == false) {
            throw new IllegalArgumentException(
                "field [" + field + "]: [index_options] of type [multi_index] needs the index setting [" + DeepHashEngineFactory.CODEC_SETTING.getKey()
                    + ": true] (set when the index is created): the tables are part of the plugin's doc-values format"
            );
        }
        int fewest = (bits + MultiIndexTable.MAX_SUBSTRING_BITS - 1) / MultiIndexTable.MAX_SUBSTRING_BITS;
        if (substrings != 0 && (substrings < fewest || substrings > bits)) {
            throw new IllegalArgumentException(
                "[index_options.substrings] on field [" + field + "] must be from " + fewest + " to " + bits + " for codes of " + bits
                    + " bits (a substring holds at most " + MultiIndexTable.MAX_SUBSTRING_BITS + " bits) but was [" + substrings + "]"
            );
        }
    }

    /** What the format is told: no tables, m per segment, or a fixed m. */
    public int formatSubstrings() {
        return multiIndex == false ? FieldSpec.NO_INDEX : substrings == 0 ? FieldSpec.AUTO_SUBSTRINGS : substrings;
    }

    void toXContent(XContentBuilder builder, String name) throws IOException {
        builder.startObject(name);
        builder.field("type", multiIndex ? MULTI_INDEX_TYPE : FLAT_TYPE);
        if (multiIndex && substrings != 0) {
            builder.field("substrings", substrings);
        }
        builder.endObject();
    }

    @Override
    public String toString() {
        return multiIndex ? MULTI_INDEX_TYPE + (substrings == 0 ? "" : "(" + substrings + ")") : FLAT_TYPE;
    }
}
