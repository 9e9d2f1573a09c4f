package org.deephash.codec;

import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.codecs.DocValuesConsumer;
import org.apache.lucene.codecs.DocValuesProducer;
import org.apache.lucene.codecs.lucene90.IndexedDISI;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.IndexFileNames;
import org.apache.lucene.index.SegmentWriteState;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.IOUtils;

import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;

import java.io.IOException;
import java.util.function.Function;

/** Writes {@link FixedBitsDocValuesFormat}; see its javadoc for the layout. */
final class FixedBitsDocValuesConsumer extends DocValuesConsumer {
    private final SegmentWriteState state;
    private final Function<String, FieldSpec> specs;
    private IndexOutput meta;
    private IndexOutput data;
    private DocValuesConsumer fallback;

    FixedBitsDocValuesConsumer(SegmentWriteState state, Function<String, FieldSpec> specs) throws IOException {
        this.state = state;
        this.specs = specs;
        boolean success = false;
        try {
            String metaName = IndexFileNames.segmentFileName(state.segmentInfo.name, state.segmentSuffix, FixedBitsDocValuesFormat.META_EXTENSION);
            String dataName = IndexFileNames.segmentFileName(state.segmentInfo.name, state.segmentSuffix, FixedBitsDocValuesFormat.DATA_EXTENSION);
            meta = state.directory.createOutput(metaName, state.context);
            data = state.directory.createOutput(dataName, state.context);
            CodecUtil.writeIndexHeader(meta, FixedBitsDocValuesFormat.META_CODEC, FixedBitsDocValuesFormat.VERSION_CURRENT, state.segmentInfo.getId(), state.segmentSuffix);
            CodecUtil.writeIndexHeader(data, FixedBitsDocValuesFormat.DATA_CODEC, FixedBitsDocValuesFormat.VERSION_CURRENT, state.segmentInfo.getId(), state.segmentSuffix);
            success = true;
        } finally {
            if (success == false) {
                IOUtils.closeWhileHandlingException(this);
            }
        }
    }

    private DocValuesConsumer fallback() throws IOException {
        if (fallback == null) {
            fallback = FixedBitsDocValuesFormat.fallbackFormat()
                .fieldsConsumer(new SegmentWriteState(state, FixedBitsDocValuesFormat.fallbackSuffix(state.segmentSuffix)));
        }
        return fallback;
    }

    @Override
    public void addBinaryField(FieldInfo field, DocValuesProducer valuesProducer) throws IOException {
        FieldSpec spec = specs.apply(field.name);
        int declared = spec.bytesPerCode();
        int width = -1;
        int count = 0;
        boolean fixed = true;
        BinaryDocValues values = valuesProducer.getBinary(field);
        for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
            int length = values.binaryValue().length;
            if (declared != -1 && length != declared) {
                throw new IllegalArgumentException(
                    "field [" + field.name + "] stores codes of " + declared + " bytes (" + declared * 8 + " bits) but document " + doc
                        + " has a value of " + length + " bytes"
                );
            }
            if (width == -1) {
                width = length;
            } else if (length != width) {
                fixed = false;
            }
            count++;
        }
        if (width == -1) {
            width = declared == -1 ? 1 : declared;
        }
        if (fixed == false || width == 0) {
            fallback().addBinaryField(field, valuesProducer);
            return;
        }

        int codesPerBlock = FixedBitsDocValuesFormat.codesPerBlock(width);
        meta.writeInt(field.number);
        meta.writeVInt(width);
        meta.writeVInt(codesPerBlock);
        meta.writeVInt(count);
        // Codes start on a multiple of 8 so that readers may load them as whole longs.
        while (data.getFilePointer() % Long.BYTES != 0) {
            data.writeByte((byte) 0);
        }
        meta.writeLong(data.getFilePointer());
        values = valuesProducer.getBinary(field);
        int maxDocWithCode = -1;
        BlockWriter blocks = new BlockWriter(data, width, codesPerBlock);
        for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
            blocks.add(values.binaryValue());
            maxDocWithCode = doc;
        }
        blocks.flush();
        if (count == maxDocWithCode + 1) {
            // Documents 0..count-1 all have a code: the doc id is the position, no marker needed.
            meta.writeLong(-1);
            meta.writeLong(0);
            meta.writeShort((short) -1);
            meta.writeByte((byte) -1);
        } else {
            long start = data.getFilePointer();
            meta.writeLong(start);
            short jumpTableEntries = IndexedDISI.writeBitSet(valuesProducer.getBinary(field), data, IndexedDISI.DEFAULT_DENSE_RANK_POWER);
            meta.writeLong(data.getFilePointer() - start);
            meta.writeShort(jumpTableEntries);
            meta.writeByte(IndexedDISI.DEFAULT_DENSE_RANK_POWER);
        }
        if (spec.substrings() == FieldSpec.NO_INDEX || count == 0) {
            meta.writeVInt(0);
        } else {
            int bits = width * 8;
            int m = spec.substrings() == FieldSpec.AUTO_SUBSTRINGS ? MultiIndexTable.defaultSubstrings(bits, count) : Math.min(bits, spec.substrings());
            MultiIndexTable.write(meta, data, width, count, state.segmentInfo.maxDoc(), m, () -> valuesProducer.getBinary(field));
        }
    }

    /** Gathers a block of codes and writes it word plane by word plane. */
    private static final class BlockWriter {
        private final IndexOutput out;
        private final int width;
        private final int wordBytes;
        private final byte[] codes;
        private final byte[] planes;
        private int count;

        BlockWriter(IndexOutput out, int width, int codesPerBlock) {
            this.out = out;
            this.width = width;
            this.wordBytes = FixedBitsCodes.wordBytes(width);
            this.codes = new byte[codesPerBlock * width];
            this.planes = wordBytes == width ? null : new byte[codes.length];
        }

        void add(BytesRef code) throws IOException {
            System.arraycopy(code.bytes, code.offset, codes, count * width, width);
            if (++count * width == codes.length) {
                flush();
            }
        }

        void flush() throws IOException {
            if (planes == null) {
                out.writeBytes(codes, 0, count * width);
            } else {
                for (int word = 0, words = width / wordBytes; word < words; word++) {
                    for (int k = 0; k < count; k++) {
                        System.arraycopy(codes, k * width + word * wordBytes, planes, (word * count + k) * wordBytes, wordBytes);
                    }
                }
                out.writeBytes(planes, 0, count * width);
            }
            count = 0;
        }
    }

    @Override
    public void addNumericField(FieldInfo field, DocValuesProducer valuesProducer) throws IOException {
        fallback().addNumericField(field, valuesProducer);
    }

    @Override
    public void addSortedField(FieldInfo field, DocValuesProducer valuesProducer) throws IOException {
        fallback().addSortedField(field, valuesProducer);
    }

    @Override
    public void addSortedNumericField(FieldInfo field, DocValuesProducer valuesProducer) throws IOException {
        fallback().addSortedNumericField(field, valuesProducer);
    }

    @Override
    public void addSortedSetField(FieldInfo field, DocValuesProducer valuesProducer) throws IOException {
        fallback().addSortedSetField(field, valuesProducer);
    }

    @Override
    public void close() throws IOException {
        boolean success = false;
        try {
            if (meta != null) {
                meta.writeInt(-1);
                meta.writeByte((byte) (fallback == null ? 0 : 1));
                CodecUtil.writeFooter(meta);
            }
            if (data != null) {
                CodecUtil.writeFooter(data);
            }
            success = true;
        } finally {
            if (success) {
                IOUtils.close(meta, data, fallback);
            } else {
                IOUtils.closeWhileHandlingException(meta, data, fallback);
            }
            meta = data = null;
            fallback = null;
        }
    }
}
