package org.deephash.codec;

import org.apache.lucene.codecs.DocValuesConsumer;
import org.apache.lucene.codecs.DocValuesFormat;
import org.apache.lucene.codecs.DocValuesProducer;
import org.apache.lucene.codecs.lucene90.Lucene90DocValuesFormat;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SegmentWriteState;

import java.io.IOException;
import java.util.function.ToIntFunction;

/**
 * Doc values for fixed-width binary codes: a segment's codes lie back to back in document order, so
 * that a scan reads them as one contiguous, memory-mapped run.
 *
 * <p>Files (extensions {@code dvm}/{@code dvd}, so that Elasticsearch's hybrid directory memory-maps the
 * data like any doc values; the per-field suffix keeps them apart from Lucene's own):
 *
 * <pre>
 * meta (.dvm):  IndexHeader(codec "FixedBits819Meta", version, segment id, suffix)
 *               then for each fixed-width binary field:
 *                 int32  field number
 *                 vint   bytesPerCode           (&gt; 0; every code of the field has this length)
 *                 vint   count                  (documents with a code)
 *                 int64  codesOffset            (in .dvd; a multiple of 8)
 *                 int64  docsOffset             (-1: documents 0..count-1 all have a code;
 *                                                else an IndexedDISI at this offset in .dvd)
 *                 int64  docsLength
 *                 int16  jumpTableEntryCount    (IndexedDISI's)
 *                 byte   denseRankPower         (IndexedDISI's)
 *               int32  -1                       (end of fields)
 *               byte   1 if other fields went to the fallback format, else 0
 *               Footer (checksum)
 * data (.dvd):  IndexHeader(codec "FixedBits819Data", version, segment id, suffix)
 *               for each field: zero padding to a multiple of 8, then count * bytesPerCode bytes,
 *                 the code of the i-th document with a code at codesOffset + i * bytesPerCode;
 *                 then its IndexedDISI when not every document has a code
 *               Footer (checksum)
 * </pre>
 *
 * <p>Fields this layout does not fit (binary values of different lengths, and numeric or sorted doc
 * values) go to a {@link Lucene90DocValuesFormat} written under the suffix {@code <suffix>_v}, so
 * that the format is correct for any field it is given. When the writer is told a field's width
 * (as Elasticsearch's {@code binary_hash} mapping does), a value of another length is refused.
 *
 * <p>The format's name is versioned; a released layout is never changed: a new one gets a new name.
 */
public final class FixedBitsDocValuesFormat extends DocValuesFormat {
    public static final String NAME = "FixedBits819";

    static final String META_CODEC = "FixedBits819Meta";
    static final String DATA_CODEC = "FixedBits819Data";
    static final String META_EXTENSION = "dvm";
    static final String DATA_EXTENSION = "dvd";
    static final int VERSION_START = 0;
    static final int VERSION_CURRENT = VERSION_START;
    static final String FALLBACK_SUFFIX = "v";

    /** Bytes per code of a field when the caller knows it, or -1. */
    private final ToIntFunction<String> declaredBytesPerCode;

    /** For reading, and for writing when widths are taken from the values themselves. */
    public FixedBitsDocValuesFormat() {
        this(field -> -1);
    }

    /** @param declaredBytesPerCode the width every code of a field must have, or -1 where unknown */
    public FixedBitsDocValuesFormat(ToIntFunction<String> declaredBytesPerCode) {
        super(NAME);
        this.declaredBytesPerCode = declaredBytesPerCode;
    }

    @Override
    public DocValuesConsumer fieldsConsumer(SegmentWriteState state) throws IOException {
        return new FixedBitsDocValuesConsumer(state, declaredBytesPerCode);
    }

    @Override
    public DocValuesProducer fieldsProducer(SegmentReadState state) throws IOException {
        return new FixedBitsDocValuesProducer(state);
    }

    static String fallbackSuffix(String suffix) {
        return suffix.isEmpty() ? FALLBACK_SUFFIX : suffix + "_" + FALLBACK_SUFFIX;
    }

    static DocValuesFormat fallbackFormat() {
        return new Lucene90DocValuesFormat();
    }
}
