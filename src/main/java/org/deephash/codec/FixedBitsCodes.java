package org.deephash.codec;

import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.store.IndexInput;

import java.io.IOException;

/**
 * Read access to one field's codes in one segment of {@link FixedBitsDocValuesFormat}: what a scan
 * needs to read the codes in bulk instead of one document at a time.
 *
 * <p>The {@code i}-th document that has a code (in doc id order) has its code at byte
 * {@code i * bytesPerCode()} of {@link #codes()}. When {@link #isDense()} those documents are exactly
 * {@code 0 .. count() - 1}; otherwise {@link #documents()} lists them and its {@code index()} is {@code i}.
 */
public final class FixedBitsCodes {
    private final IndexInput codes;
    private final IndexInput data;
    private final FixedBitsDocValuesProducer.Entry entry;

    FixedBitsCodes(IndexInput data, FixedBitsDocValuesProducer.Entry entry) throws IOException {
        this.data = data;
        this.entry = entry;
        this.codes = data.slice("codes", entry.codesOffset(), (long) entry.count() * entry.bytesPerCode());
    }

    public int bytesPerCode() {
        return entry.bytesPerCode();
    }

    public int count() {
        return entry.count();
    }

    public boolean isDense() {
        return entry.docsOffset() == -1;
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
