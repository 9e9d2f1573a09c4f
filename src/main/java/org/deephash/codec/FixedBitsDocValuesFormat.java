package org.deephash.codec;

import org.apache.lucene.codecs.DocValuesConsumer;
import org.apache.lucene.codecs.DocValuesFormat;
import org.apache.lucene.codecs.DocValuesProducer;
import org.apache.lucene.codecs.lucene90.Lucene90DocValuesFormat;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SegmentWriteState;

import java.io.IOException;
import java.util.function.Function;

/**
 * Doc values for fixed-width binary codes: a segment's codes lie in document order in one
 * contiguous, memory-mapped run, cut into blocks and stored word plane by word plane, so that a
 * scan reads each word of many codes as one contiguous array of longs.
 *
 * <p>Files (extensions {@code dvm}/{@code dvd}, so that Elasticsearch's hybrid directory memory-maps the
 * data like any doc values; the per-field suffix keeps them apart from Lucene's own):
 *
 * <pre>
 * meta (.dvm):  IndexHeader(codec "FixedBits819Meta", version, segment id, suffix)
 *               then for each fixed-width binary field:
 *                 int32  field number
 *                 vint   bytesPerCode           (&gt; 0; every code of the field has this length)
 *                 vint   codesPerBlock          (&gt; 0; see the data layout)
 *                 vint   count                  (documents with a code)
 *                 int64  codesOffset            (in .dvd; a multiple of 8)
 *                 int64  docsOffset             (-1: documents 0..count-1 all have a code;
 *                                                else an IndexedDISI at this offset in .dvd)
 *                 int64  docsLength
 *                 int16  jumpTableEntryCount    (IndexedDISI's)
 *                 byte   denseRankPower         (IndexedDISI's)
 *                 vint   substrings             (version 2 on: m, or 0 for no multi-index tables;
 *                                                then each table's meta, see {@link MultiIndexTable})
 *               int32  -1                       (end of fields)
 *               byte   1 if other fields went to the fallback format, else 0
 *               Footer (checksum)
 * data (.dvd):  IndexHeader(codec "FixedBits819Data", version, segment id, suffix)
 *               for each field: zero padding to a multiple of 8, then count * bytesPerCode bytes of
 *                 codes (below); then its IndexedDISI when not every document has a code; then its
 *                 m multi-index tables, if any ({@link MultiIndexTable})
 *               Footer (checksum)
 * </pre>
 *
 * <p>The codes: the {@code i}-th document with a code (in doc id order) has position {@code i}. Positions
 * are cut into blocks of {@code codesPerBlock} (the last one may be shorter); block {@code b} holds
 * positions {@code b * codesPerBlock} to {@code b * codesPerBlock + n - 1} and starts at byte
 * {@code b * codesPerBlock * bytesPerCode} of the codes. A code is a sequence of words: 8-byte words when
 * {@code bytesPerCode} is a multiple of 8, else one word of {@code bytesPerCode} bytes. Inside a block the
 * words are stored plane by plane: word {@code j} of the {@code k}-th code of the block lies at
 * {@code blockStart + (j * n + k) * wordBytes}. With one word per code (64-bit codes, or widths that
 * are not a multiple of 64 bits) this is simply the codes back to back. The bytes of a word are the
 * code's own bytes, unchanged (the scan reads them as little-endian longs).
 *
 * <p>Why planes: the distance of a block's codes is then, word by word, one pass over a contiguous
 * array, a loop the JIT vectorises at every width; codes stored back to back make the multi-word loop
 * strided, which it does not vectorise (bench/RESULTS.md has both).
 *
 * <p>Fields this layout does not fit (binary values of different lengths, and numeric or sorted doc
 * values) go to a {@link Lucene90DocValuesFormat} written under the suffix {@code <suffix>_v}, so
 * that the format is correct for any field it is given. When the writer is told a field's width
 * (as Elasticsearch's {@code binary_hash} mapping does), a value of another length is refused.
 *
 * <p>The format's name is versioned; a released layout is never changed: a new one gets a new name or
 * version. Version 0 (codes back to back, no blocks) was never released and is not read.
 */
public final class FixedBitsDocValuesFormat extends DocValuesFormat {
    public static final String NAME = "FixedBits819";

    static final String META_CODEC = "FixedBits819Meta";
    static final String DATA_CODEC = "FixedBits819Data";
    static final String META_EXTENSION = "dvm";
    static final String DATA_EXTENSION = "dvd";
    /** Version 1: codes in blocks stored word plane by word plane. */
    static final int VERSION_START = 1;
    /** Version 2: a field may also have multi-index hashing tables ({@link MultiIndexTable}). */
    static final int VERSION_MULTI_INDEX = 2;
    static final int VERSION_CURRENT = VERSION_MULTI_INDEX;
    /**
     * Blocks hold this many codes, fewer for wide codes so that a block stays within 8 KiB: a scan reads
     * a whole block with one bulk read into a buffer that stays in L1. Larger blocks (whole blocks of
     * 1024 codes read at once, 32 and 64 KiB at 256 and 512 bits) were slower by a third (bench/RESULTS.md).
     */
    static final int MAX_CODES_PER_BLOCK = 1024;
    static final int MAX_BLOCK_BYTES = 8 << 10;
    static final String FALLBACK_SUFFIX = "v";

    /**
     * What the writer is told about a field.
     *
     * @param bytesPerCode the width every code must have, or -1 to take it from the values
     * @param substrings   {@link #NO_INDEX}, {@link #AUTO_SUBSTRINGS} (m chosen per segment from its size), or m
     */
    public record FieldSpec(int bytesPerCode, int substrings) {
        public static final int NO_INDEX = -1;
        public static final int AUTO_SUBSTRINGS = 0;
        public static final FieldSpec UNKNOWN = new FieldSpec(-1, NO_INDEX);
    }

    private final Function<String, FieldSpec> specs;

    /** For reading, and for writing when widths are taken from the values themselves and no field has tables. */
    public FixedBitsDocValuesFormat() {
        this(field -> FieldSpec.UNKNOWN);
    }

    /** @param specs what is known of each field: {@link FieldSpec#UNKNOWN} where nothing */
    public FixedBitsDocValuesFormat(Function<String, FieldSpec> specs) {
        super(NAME);
        this.specs = specs;
    }

    @Override
    public DocValuesConsumer fieldsConsumer(SegmentWriteState state) throws IOException {
        return new FixedBitsDocValuesConsumer(state, specs);
    }

    @Override
    public DocValuesProducer fieldsProducer(SegmentReadState state) throws IOException {
        return new FixedBitsDocValuesProducer(state);
    }

    static int codesPerBlock(int bytesPerCode) {
        return Math.max(1, Math.min(MAX_CODES_PER_BLOCK, MAX_BLOCK_BYTES / bytesPerCode));
    }

    static String fallbackSuffix(String suffix) {
        return suffix.isEmpty() ? FALLBACK_SUFFIX : suffix + "_" + FALLBACK_SUFFIX;
    }

    static DocValuesFormat fallbackFormat() {
        return new Lucene90DocValuesFormat();
    }
}
