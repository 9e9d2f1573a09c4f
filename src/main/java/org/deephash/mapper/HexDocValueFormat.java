package org.deephash.mapper;

import org.apache.lucene.util.BytesRef;
import org.deephash.hamming.HashCode;
import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.search.DocValueFormat;

/** Shows a {@code binary_hash} doc value (for example in {@code docvalue_fields}) as lower-case hex. */
public final class HexDocValueFormat implements DocValueFormat {
    public static final String NAME = "binary_hash_hex";
    public static final HexDocValueFormat INSTANCE = new HexDocValueFormat();

    private HexDocValueFormat() {}

    public static HexDocValueFormat read(StreamInput in) {
        return INSTANCE;
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public void writeTo(StreamOutput out) {}

    @Override
    public Object format(BytesRef value) {
        return HashCode.toHex(value.bytes, value.offset, value.length);
    }

    @Override
    public BytesRef parseBytesRef(Object value) {
        return new BytesRef(HashCode.fromHex(value.toString()).bytes());
    }

    @Override
    public String toString() {
        return NAME;
    }
}
