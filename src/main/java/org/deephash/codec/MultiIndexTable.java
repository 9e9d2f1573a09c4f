package org.deephash.codec;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.IOSupplier;
import org.apache.lucene.util.LongValues;
import org.apache.lucene.util.packed.DirectMonotonicReader;
import org.apache.lucene.util.packed.DirectMonotonicWriter;
import org.apache.lucene.util.packed.DirectReader;
import org.apache.lucene.util.packed.DirectWriter;

import java.io.IOException;
import java.util.Arrays;

/**
 * One segment's multi-index hashing tables for one field (Norouzi, Punjani and Fleet, "Fast Exact Search
 * in Hamming Space with Multi-Index Hashing", TPAMI 2014): each code is cut into {@code m} disjoint
 * substrings, and for each substring a table lists the documents by the substring's value.
 *
 * <p>Substrings: the code's bits are numbered little-endian (bit {@code i} is bit {@code i % 8} of byte
 * {@code i / 8}, the order in which the scan reads bytes as little-endian longs); substring {@code j}
 * is a run of consecutive bits, the first {@code bits % m} substrings one bit longer than the rest.
 * The value of a substring is its bits read the same way, bit 0 the lowest.
 *
 * <p>A table sorts the segment's documents by the substring's value into {@code 2^t} buckets by its
 * {@code t} highest bits ({@code t} is at most the substring's length and about {@code log2(count) - 1}, so
 * that a bucket holds one to two documents). Per table, in the data file:
 * <pre>
 *   offsets: 2^t + 1 monotonic values (DirectMonotonicWriter, blocks of 2^10): bucket b is entries
 *            [offsets[b], offsets[b+1])
 *   entries: count values (DirectWriter): doc &lt;&lt; lowBits | the substring's lowBits lowest bits,
 *            lowBits = length - t; in a bucket in increasing doc order
 * </pre>
 * and in the meta file: {@code byte t, byte bitsPerEntry, byte offsetsBlockShift, int64 offsetsStart,
 * DirectMonotonic meta, int64 offsetsLength, int64 entriesStart, int64 entriesLength}. An entry gives back the whole
 * substring value: its bucket gives the high bits, the entry the low ones.
 */
public final class MultiIndexTable {
    /** Offsets in blocks of 2^10: a random walk of bucket loads strays less from the block's line in a short block (bits per offset). */
    static final int OFFSETS_BLOCK_SHIFT = 10;
    /** A substring value is read as a long with room to shift: 32 bits at most per substring. */
    public static final int MAX_SUBSTRING_BITS = 32;
    /** Segments are treated as at least this big when choosing m, so that tiny ones get short substrings. */
    private static final int MIN_COUNT_FOR_SUBSTRINGS = 256;
    /** At most 2^22 buckets a table: the writer counts them in an int[] of that size. */
    static final int MAX_DIRECTORY_BITS = 22;

    /** Where one substring's table lies, as read from the meta file. */
    record Entry(
        int directoryBits,
        int bitsPerEntry,
        int offsetsBlockShift,
        long offsetsStart,
        long offsetsLength,
        DirectMonotonicReader.Meta offsetsMeta,
        long entriesStart,
        long entriesLength
    ) {}

    private final int[] starts;
    private final int[] lengths;
    private final int[] lowBits;
    private final DirectMonotonicReader[] offsets;
    private final LongValues[] entries;

    MultiIndexTable(IndexInput data, int bits, Entry[] tables) throws IOException {
        int m = tables.length;
        this.starts = new int[m];
        this.lengths = new int[m];
        this.lowBits = new int[m];
        this.offsets = new DirectMonotonicReader[m];
        this.entries = new LongValues[m];
        for (int j = 0; j < m; j++) {
            starts[j] = substringStart(bits, m, j);
            lengths[j] = substringLength(bits, m, j);
            lowBits[j] = lengths[j] - tables[j].directoryBits();
            offsets[j] = DirectMonotonicReader.getInstance(tables[j].offsetsMeta(), data.randomAccessSlice(tables[j].offsetsStart(), tables[j].offsetsLength()));
            entries[j] = DirectReader.getInstance(data.randomAccessSlice(tables[j].entriesStart(), tables[j].entriesLength()), tables[j].bitsPerEntry());
        }
    }

    /** m, the number of substrings. */
    public int substrings() {
        return starts.length;
    }

    /** The first bit of substring {@code j}. */
    public int start(int j) {
        return starts[j];
    }

    /** The bits in substring {@code j}. */
    public int length(int j) {
        return lengths[j];
    }

    /** t: the highest bits of substring {@code j} that choose its bucket. */
    public int directoryBits(int j) {
        return lengths[j] - lowBits[j];
    }

    /** The first entry of bucket {@code bucket} of table {@code j}; its end is the next bucket's start. */
    public long bucketStart(int j, int bucket) {
        return offsets[j].get(bucket);
    }

    /** The document of entry {@code i} of table {@code j}. */
    public int doc(int j, long entry) {
        return (int) (entry >>> lowBits[j]);
    }

    /** The substring value of an entry read from bucket {@code bucket} of table {@code j}. */
    public long value(int j, int bucket, long entry) {
        return ((long) bucket << lowBits[j]) | (entry & ((1L << lowBits[j]) - 1));
    }

    /** Entry {@code i} of table {@code j}: pass it to {@link #doc} and {@link #value}. */
    public long entry(int j, long i) {
        return entries[j].get(i);
    }

    /** The first bit of substring {@code j} of {@code m} in a code of {@code bits} bits. */
    public static int substringStart(int bits, int m, int j) {
        int base = bits / m;
        int longer = bits % m;
        return j * base + Math.min(j, longer);
    }

    public static int substringLength(int bits, int m, int j) {
        return bits / m + (j < bits % m ? 1 : 0);
    }

    /** Bits {@code [start, start + length)} of the code at {@code bytes[offset..]}, as a value (length at most 32). */
    public static long substring(byte[] bytes, int offset, int start, int length) {
        long value = 0;
        int first = start >>> 3;
        int last = (start + length - 1) >>> 3;
        for (int i = last; i >= first; i--) {
            value = (value << 8) | (bytes[offset + i] & 0xFFL);
        }
        return (value >>> (start & 7)) & ((1L << length) - 1);
    }

    /**
     * m for a segment of {@code count} codes of {@code bits} bits: about bits / log2(count) (the paper's
     * choice, which makes a bucket hold about one code), and no substring longer than 32 bits.
     */
    public static int defaultSubstrings(int bits, int count) {
        double log2 = Math.log(Math.max(count, MIN_COUNT_FOR_SUBSTRINGS)) / Math.log(2);
        int m = (int) Math.round(bits / log2);
        int fewest = (bits + MAX_SUBSTRING_BITS - 1) / MAX_SUBSTRING_BITS;
        return Math.max(fewest, Math.min(bits, Math.max(1, m)));
    }

    /**
     * t for a substring of {@code length} bits in a segment of {@code count} codes: one to two codes per
     * bucket (at one per bucket the offsets cost as much again as the entries).
     */
    static int directoryBits(int length, int count) {
        int log2 = 32 - Integer.numberOfLeadingZeros(Math.max(1, count - 1));
        return Math.max(1, Math.min(Math.min(length, MAX_DIRECTORY_BITS), log2 - 1));
    }

    /**
     * Writes the tables of a field's {@code count} codes of {@code bytesPerCode} bytes: a counting sort
     * per substring, one pass over the values each. Holds, for one table at a time, each code's substring
     * and entry (two ints a code, a long for the entry where it needs more than 32 bits; 80 MB for 10M
     * codes) and 2^t bucket counts.
     *
     * @param values fresh iterators over the field's codes
     */
    static void write(IndexOutput meta, IndexOutput data, int bytesPerCode, int count, int maxDoc, int m, IOSupplier<BinaryDocValues> values)
        throws IOException {
        int bits = bytesPerCode * 8;
        meta.writeVInt(m);
        for (int j = 0; j < m; j++) {
            int start = substringStart(bits, m, j);
            int length = substringLength(bits, m, j);
            int t = directoryBits(length, count);
            int low = length - t;
            long lowMask = (1L << low) - 1;
            int[] bucketEnds = new int[(1 << t) + 1];
            // One pass over the values per table: each code's substring (at most 32 bits) kept for the second pass.
            int[] keys = new int[count];
            int[] docs = count == maxDoc ? null : new int[count];
            BinaryDocValues codes = values.get();
            int n = 0;
            for (int doc = codes.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = codes.nextDoc()) {
                BytesRef code = codes.binaryValue();
                long value = substring(code.bytes, code.offset, start, length);
                keys[n] = (int) value;
                if (docs != null) {
                    docs[n] = doc;
                }
                n++;
                bucketEnds[(int) (value >>> low) + 1]++;
            }
            for (int b = 1; b < bucketEnds.length; b++) {
                bucketEnds[b] += bucketEnds[b - 1];
            }
            int bitsPerEntry = DirectWriter.unsignedBitsRequired(((long) Math.max(0, maxDoc - 1) << low) | lowMask);
            int[] next = Arrays.copyOf(bucketEnds, bucketEnds.length - 1);
            long[] wide = bitsPerEntry > Integer.SIZE ? new long[count] : null;
            int[] narrow = wide == null ? new int[count] : null;
            for (int i = 0; i < count; i++) {
                long value = keys[i] & 0xFFFFFFFFL;
                int doc = docs == null ? i : docs[i];
                long entry = ((long) doc << low) | (value & lowMask);
                int at = next[(int) (value >>> low)]++;
                if (wide != null) {
                    wide[at] = entry;
                } else {
                    narrow[at] = (int) entry;
                }
            }
            keys = null;
            docs = null;

            meta.writeByte((byte) t);
            meta.writeByte((byte) bitsPerEntry);
            meta.writeByte((byte) OFFSETS_BLOCK_SHIFT);
            long offsetsStart = data.getFilePointer();
            meta.writeLong(offsetsStart);
            // The writer appends its own meta at finish: write the data length after it.
            DirectMonotonicWriter offsets = DirectMonotonicWriter.getInstance(meta, data, bucketEnds.length, OFFSETS_BLOCK_SHIFT);
            for (int end : bucketEnds) {
                offsets.add(end);
            }
            offsets.finish();
            meta.writeLong(data.getFilePointer() - offsetsStart);
            long entriesStart = data.getFilePointer();
            meta.writeLong(entriesStart);
            DirectWriter writer = DirectWriter.getInstance(data, count, bitsPerEntry);
            for (int i = 0; i < count; i++) {
                writer.add(wide != null ? wide[i] : narrow[i] & 0xFFFFFFFFL);
            }
            writer.finish();
            meta.writeLong(data.getFilePointer() - entriesStart);
        }
    }

    /** Reads what {@link #write} put in the meta file. */
    static Entry[] readMeta(IndexInput meta) throws IOException {
        int m = meta.readVInt();
        Entry[] tables = new Entry[m];
        for (int j = 0; j < m; j++) {
            int t = meta.readByte();
            int bitsPerEntry = meta.readByte();
            int blockShift = meta.readByte();
            if (t < 1 || t > MAX_DIRECTORY_BITS || bitsPerEntry < 1 || bitsPerEntry > Long.SIZE || blockShift < DirectMonotonicWriter.MIN_BLOCK_SHIFT
                || blockShift > DirectMonotonicWriter.MAX_BLOCK_SHIFT) {
                throw new CorruptIndexException(
                    "multi-index table " + j + ": bad directory bits " + t + ", bits per entry " + bitsPerEntry + " or block shift " + blockShift,
                    meta
                );
            }
            long offsetsStart = meta.readLong();
            DirectMonotonicReader.Meta offsetsMeta = DirectMonotonicReader.loadMeta(meta, (1L << t) + 1, blockShift);
            long offsetsLength = meta.readLong();
            long entriesStart = meta.readLong();
            long entriesLength = meta.readLong();
            tables[j] = new Entry(t, bitsPerEntry, blockShift, offsetsStart, offsetsLength, offsetsMeta, entriesStart, entriesLength);
        }
        return tables;
    }
}
