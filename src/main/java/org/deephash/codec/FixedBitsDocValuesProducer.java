package org.deephash.codec;

import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.codecs.DocValuesProducer;
import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.IndexFileNames;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SortedDocValues;
import org.apache.lucene.index.SortedNumericDocValues;
import org.apache.lucene.index.SortedSetDocValues;
import org.apache.lucene.store.ChecksumIndexInput;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.IOUtils;
import org.deephash.compat.LuceneCompat;
import org.deephash.compat.LuceneDocValuesProducer;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Reads {@link FixedBitsDocValuesFormat}; see its javadoc for the layout. */
final class FixedBitsDocValuesProducer extends LuceneDocValuesProducer {

    /** @param tables the multi-index tables, or null */
    record Entry(
        int bytesPerCode,
        int codesPerBlock,
        int count,
        long codesOffset,
        long docsOffset,
        long docsLength,
        short jumpTableEntryCount,
        byte denseRankPower,
        MultiIndexTable.Entry[] tables
    ) {}

    private final Map<Integer, Entry> entries = new HashMap<>();
    /**
     * Each field's tables, opened on first use and shared by every search of the segment: opening one
     * builds a reader per block of its offsets, too much to do per query. Their reads are positional.
     */
    private final Map<Integer, MultiIndexTable> multiIndex = new ConcurrentHashMap<>();
    private final IndexInput data;
    private final DocValuesProducer fallback;

    FixedBitsDocValuesProducer(SegmentReadState state) throws IOException {
        String metaName = IndexFileNames.segmentFileName(state.segmentInfo.name, state.segmentSuffix, FixedBitsDocValuesFormat.META_EXTENSION);
        boolean usesFallback = false;
        int version = -1;
        try (ChecksumIndexInput meta = LuceneCompat.openChecksumInput(state.directory, metaName, state.context)) {
            Throwable failure = null;
            try {
                version = CodecUtil.checkIndexHeader(
                    meta,
                    FixedBitsDocValuesFormat.META_CODEC,
                    FixedBitsDocValuesFormat.VERSION_START,
                    FixedBitsDocValuesFormat.VERSION_CURRENT,
                    state.segmentInfo.getId(),
                    state.segmentSuffix
                );
                for (int number = meta.readInt(); number != -1; number = meta.readInt()) {
                    FieldInfo info = state.fieldInfos.fieldInfo(number);
                    if (info == null) {
                        throw new CorruptIndexException("unknown field number " + number, meta);
                    }
                    int bytesPerCode = meta.readVInt();
                    int codesPerBlock = meta.readVInt();
                    int count = meta.readVInt();
                    long codesOffset = meta.readLong();
                    long docsOffset = meta.readLong();
                    long docsLength = meta.readLong();
                    short jumpTableEntryCount = meta.readShort();
                    byte denseRankPower = meta.readByte();
                    MultiIndexTable.Entry[] tables = version >= FixedBitsDocValuesFormat.VERSION_MULTI_INDEX ? MultiIndexTable.readMeta(meta) : null;
                    if (tables != null && tables.length > bytesPerCode * 8) {
                        throw new CorruptIndexException("field [" + info.name + "] has " + tables.length + " multi-index tables for " + bytesPerCode * 8 + " bits", meta);
                    }
                    Entry entry = new Entry(
                        bytesPerCode,
                        codesPerBlock,
                        count,
                        codesOffset,
                        docsOffset,
                        docsLength,
                        jumpTableEntryCount,
                        denseRankPower,
                        tables == null || tables.length == 0 ? null : tables
                    );
                    if (entry.bytesPerCode() <= 0 || entry.codesPerBlock() <= 0 || entry.count() < 0) {
                        throw new CorruptIndexException(
                            "field [" + info.name + "] has bad width " + entry.bytesPerCode() + ", block size " + entry.codesPerBlock() + " or count " + entry.count(),
                            meta
                        );
                    }
                    entries.put(number, entry);
                }
                usesFallback = meta.readByte() == 1;
            } catch (Throwable t) {
                failure = t;
            } finally {
                CodecUtil.checkFooter(meta, failure);
            }
        }

        String dataName = IndexFileNames.segmentFileName(state.segmentInfo.name, state.segmentSuffix, FixedBitsDocValuesFormat.DATA_EXTENSION);
        IndexInput in = state.directory.openInput(dataName, state.context);
        DocValuesProducer fallbackProducer = null;
        boolean success = false;
        try {
            int dataVersion = CodecUtil.checkIndexHeader(
                in,
                FixedBitsDocValuesFormat.DATA_CODEC,
                FixedBitsDocValuesFormat.VERSION_START,
                FixedBitsDocValuesFormat.VERSION_CURRENT,
                state.segmentInfo.getId(),
                state.segmentSuffix
            );
            if (dataVersion != version) {
                throw new CorruptIndexException("format versions mismatch: meta=" + version + ", data=" + dataVersion, in);
            }
            // The whole file's checksum, now: the query reads codes straight from this file and nothing else
            // would notice a flipped bit in them (Lucene's own formats check only the footer on open and
            // leave the rest to merges and recoveries). A corrupt copy then fails when it opens, and
            // Elasticsearch marks it corrupted and rebuilds it from another copy, instead of answering
            // wrongly. One sequential pass at open; checkIntegrity does it again for merges.
            CodecUtil.checksumEntireFile(in);
            if (usesFallback) {
                fallbackProducer = FixedBitsDocValuesFormat.fallbackFormat()
                    .fieldsProducer(new SegmentReadState(state, FixedBitsDocValuesFormat.fallbackSuffix(state.segmentSuffix)));
            }
            success = true;
        } finally {
            if (success == false) {
                IOUtils.closeWhileHandlingException(in, fallbackProducer);
            }
        }
        this.data = in;
        this.fallback = fallbackProducer;
    }

    @Override
    protected DocValuesProducer delegateFor(FieldInfo field) {
        return entries.containsKey(field.number) ? null : fallback;
    }

    @Override
    public BinaryDocValues getBinary(FieldInfo field) throws IOException {
        Entry entry = entries.get(field.number);
        if (entry == null) {
            return fallback == null ? DocValues.emptyBinary() : fallback.getBinary(field);
        }
        return new FixedBitsBinaryDocValues(new FixedBitsCodes(data, entry, () -> multiIndex(field.number, entry)));
    }

    private MultiIndexTable multiIndex(int field, Entry entry) throws IOException {
        if (entry.tables() == null) {
            return null;
        }
        MultiIndexTable table = multiIndex.get(field);
        if (table == null) {
            table = new MultiIndexTable(data, entry.bytesPerCode() * 8, entry.tables());
            MultiIndexTable raced = multiIndex.putIfAbsent(field, table);
            table = raced == null ? table : raced;
        }
        return table;
    }

    @Override
    public NumericDocValues getNumeric(FieldInfo field) throws IOException {
        return fallback == null ? DocValues.emptyNumeric() : fallback.getNumeric(field);
    }

    @Override
    public SortedDocValues getSorted(FieldInfo field) throws IOException {
        return fallback == null ? DocValues.emptySorted() : fallback.getSorted(field);
    }

    @Override
    public SortedNumericDocValues getSortedNumeric(FieldInfo field) throws IOException {
        return fallback == null ? DocValues.emptySortedNumeric() : fallback.getSortedNumeric(field);
    }

    @Override
    public SortedSetDocValues getSortedSet(FieldInfo field) throws IOException {
        return fallback == null ? DocValues.emptySortedSet() : fallback.getSortedSet(field);
    }

    @Override
    public void checkIntegrity() throws IOException {
        CodecUtil.checksumEntireFile(data);
        if (fallback != null) {
            fallback.checkIntegrity();
        }
    }

    @Override
    public void close() throws IOException {
        IOUtils.close(data, fallback);
    }

    /** One document at a time, for everything that is not the hamming scan (fetching, scripts, merging). */
    static final class FixedBitsBinaryDocValues extends BinaryDocValues implements FixedBitsValues {
        private final FixedBitsCodes codes;
        private final IndexedDISI sparse;
        private final IndexInput in;
        private final BytesRef value;
        private int doc = -1;

        FixedBitsBinaryDocValues(FixedBitsCodes codes) throws IOException {
            this.codes = codes;
            this.sparse = codes.isDense() ? null : codes.documents();
            this.in = codes.codes();
            this.value = new BytesRef(new byte[codes.bytesPerCode()]);
        }

        @Override
        public FixedBitsCodes fixedBitsCodes() {
            return codes;
        }

        @Override
        public BytesRef binaryValue() throws IOException {
            codes.readCode(in, sparse == null ? doc : sparse.index(), value.bytes);
            return value;
        }

        @Override
        public boolean advanceExact(int target) throws IOException {
            if (sparse != null) {
                return sparse.advanceExact(target);
            }
            doc = target;
            return target < codes.count();
        }

        @Override
        public int docID() {
            return sparse != null ? sparse.docID() : doc;
        }

        @Override
        public int nextDoc() throws IOException {
            return advance(docID() + 1);
        }

        @Override
        public int advance(int target) throws IOException {
            if (sparse != null) {
                return sparse.advance(target);
            }
            return doc = target < codes.count() ? target : NO_MORE_DOCS;
        }

        @Override
        public long cost() {
            return codes.count();
        }
    }
}
