package org.deephash.codec;

import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.util.IOSupplier;

import java.io.IOException;

/**
 * Read access to one field's codes in one segment of {@link FixedBitsDocValuesFormat}: what a scan
 * needs to read the codes in bulk instead of one document at a time.
 *
 * <p>The {@code i}-th document that has a code (in doc id order) has position {@code i}. When
 * {@link #isDense()} those documents are exactly {@code 0 .. count() - 1}; otherwise {@link #documents()}
 * lists them and its {@code index()} is the position. Codes are stored in blocks of
 * {@link #codesPerBlock()}, word plane by word plane: {@link #wordOffset} says where a word lies (the
 * format's javadoc has the layout).
 */
public final class FixedBitsCodes {
    private final IndexInput codes;
    private final IndexInput data;
    private final FixedBitsDocValuesProducer.Entry entry;
    private final int wordBytes;
    private final IOSupplier<MultiIndexTable> multiIndex;

    FixedBitsCodes(IndexInput data, FixedBitsDocValuesProducer.Entry entry, IOSupplier<MultiIndexTable> multiIndex) throws IOException {
        this.data = data;
        this.entry = entry;
        this.wordBytes = wordBytes(entry.bytesPerCode());
        this.codes = data.slice("codes", entry.codesOffset(), (long) entry.count() * entry.bytesPerCode());
        this.multiIndex = multiIndex;
    }

    /** The field's multi-index hashing tables in this segment, or null when it has none. */
    public MultiIndexTable multiIndex() throws IOException {
        return multiIndex.get();
    }

    /** 8 when codes are a whole number of longs (stored by word planes), else the whole code. */
    static int wordBytes(int bytesPerCode) {
        return bytesPerCode % Long.BYTES == 0 ? Long.BYTES : bytesPerCode;
    }

    public int bytesPerCode() {
        return entry.bytesPerCode();
    }

    /** Bytes in a word: 8 when codes are a whole number of longs, else {@link #bytesPerCode()}. */
    public int wordBytes() {
        return wordBytes;
    }

    public int wordsPerCode() {
        return entry.bytesPerCode() / wordBytes;
    }

    public int codesPerBlock() {
        return entry.codesPerBlock();
    }

    public int count() {
        return entry.count();
    }

    public boolean isDense() {
        return entry.docsOffset() == -1;
    }

    /** The first position after the block that holds {@code position}. */
    public int blockEnd(int position) {
        int perBlock = entry.codesPerBlock();
        return (int) Math.min(entry.count(), (long) (position / perBlock + 1) * perBlock);
    }

    /** Where word {@code word} of the code at {@code position} starts in {@link #codes()}. */
    public long wordOffset(int position, int word) {
        int perBlock = entry.codesPerBlock();
        int blockFirst = position - position % perBlock;
        int inBlock = Math.min(perBlock, entry.count() - blockFirst);
        return (long) blockFirst * entry.bytesPerCode() + ((long) word * inBlock + (position - blockFirst)) * wordBytes;
    }

    /** Reads the code at {@code position} into {@code code} (of {@link #bytesPerCode()} bytes) from {@code in}, a view of {@link #codes()}. */
    public void readCode(IndexInput in, int position, byte[] code) throws IOException {
        for (int word = 0, words = wordsPerCode(); word < words; word++) {
            in.seek(wordOffset(position, word));
            in.readBytes(code, word * wordBytes, wordBytes);
        }
    }

    /** A fresh view of the codes, positioned at 0; each caller gets its own (IndexInputs are not thread-safe). */
    public IndexInput codes() {
        return codes.clone();
    }

    /** A fresh iterator over the documents with a code; {@code index()} is the code's position. */
    public IndexedDISI documents() throws IOException {
        if (isDense()) {
            throw new IllegalStateException("a dense field has no document list: documents 0.." + (count() - 1) + " all have a code");
        }
        return new IndexedDISI(data, entry.docsOffset(), entry.docsLength(), entry.jumpTableEntryCount(), entry.denseRankPower(), entry.count());
    }
}
