package org.deephash.codec;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.tests.util.TestUtil;
import org.apache.lucene.util.BytesRef;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.instanceOf;

/** The format's own promises: random widths, dense and sparse segments, merges, CheckIndex, checksums, widths. */
public class FixedBitsCodecTests extends ESTestCase {

    private static IndexWriterConfig config(Codec codec) {
        IndexWriterConfig config = new IndexWriterConfig().setCodec(codec).setUseCompoundFile(false);
        config.setMergePolicy(newLogMergePolicy(false));
        return config;
    }

    private static Codec codec() {
        return TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat());
    }

    /** Writes docs with id and (maybe) a code, in several segments, deleting some; returns the live codes by id. */
    private Map<String, byte[]> writeRandom(Directory dir, int bytesPerCode, boolean forceMerge) throws IOException {
        Map<String, byte[]> expected = new HashMap<>();
        try (IndexWriter writer = new IndexWriter(dir, config(codec()))) {
            int segments = between(1, 5);
            int id = 0;
            for (int s = 0; s < segments; s++) {
                double density = randomFrom(1.0, 1.0, 0.5, 0.02, 0.0);
                int docs = between(1, 3000);
                for (int i = 0; i < docs; i++) {
                    Document doc = new Document();
                    String key = Integer.toString(id++);
                    doc.add(new StringField("id", key, Field.Store.YES));
                    if (random().nextDouble() < density) {
                        byte[] code = randomByteArrayOfLength(bytesPerCode);
                        doc.add(new BinaryDocValuesField("code", new BytesRef(code)));
                        expected.put(key, code);
                    }
                    writer.addDocument(doc);
                }
                writer.commit();
            }
            for (int i = 0; i < id / 20; i++) {
                String key = Integer.toString(between(0, id - 1));
                writer.deleteDocuments(new Term("id", key));
                expected.remove(key);
            }
            if (forceMerge) {
                writer.forceMerge(1);
            }
            writer.commit();
        }
        return expected;
    }

    private static void assertCodes(Directory dir, Map<String, byte[]> expected) throws IOException {
        int seen = 0;
        try (DirectoryReader reader = DirectoryReader.open(dir)) {
            for (LeafReaderContext leaf : reader.leaves()) {
                LeafReader r = leaf.reader();
                StoredFields stored = r.storedFields();
                BinaryDocValues values = r.getBinaryDocValues("code");
                if (values == null) {
                    continue;
                }
                assertThat(values, instanceOf(FixedBitsValues.class));
                for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
                    if (r.getLiveDocs() != null && r.getLiveDocs().get(doc) == false) {
                        continue;
                    }
                    String id = stored.document(doc).get("id");
                    byte[] want = expected.get(id);
                    assertNotNull("doc " + id + " should have no code", want);
                    assertThat(BytesRef.deepCopyOf(values.binaryValue()), equalTo(new BytesRef(want)));
                    seen++;
                }
                // advanceExact agrees with iteration, including on documents without a code.
                BinaryDocValues exact = r.getBinaryDocValues("code");
                for (int doc = 0; doc < r.maxDoc(); doc += between(1, 50)) {
                    String id = stored.document(doc).get("id");
                    boolean live = r.getLiveDocs() == null || r.getLiveDocs().get(doc);
                    boolean has = exact.advanceExact(doc);
                    assertThat(exact.docID(), equalTo(doc));
                    if (live) {
                        assertThat(id, has, equalTo(expected.containsKey(id)));
                        if (has) {
                            assertThat(BytesRef.deepCopyOf(exact.binaryValue()), equalTo(new BytesRef(expected.get(id))));
                        }
                    }
                }
            }
        }
        assertThat(seen, equalTo(expected.size()));
    }

    public void testRandomWidthsDenseAndSparseSegmentsAndMerges() throws IOException {
        for (int round = 0; round < 4; round++) {
            int bytesPerCode = randomFrom(8, 16, 32, 64, between(1, 512));
            try (Directory dir = newDirectory()) {
                Map<String, byte[]> expected = writeRandom(dir, bytesPerCode, randomBoolean());
                assertCodes(dir, expected);
                TestUtil.checkIndex(dir);
            }
        }
    }

    public void testDenseSegmentNeedsNoDocumentList() throws IOException {
        try (Directory dir = newDirectory()) {
            try (IndexWriter writer = new IndexWriter(dir, config(codec()))) {
                for (int i = 0; i < 100; i++) {
                    Document doc = new Document();
                    doc.add(new BinaryDocValuesField("code", new BytesRef(new byte[] { (byte) i, 1, 2, 3 })));
                    writer.addDocument(doc);
                }
                writer.addDocument(new Document()); // trailing documents without a code keep the dense layout
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                FixedBitsCodes codes = ((FixedBitsValues) reader.leaves().get(0).reader().getBinaryDocValues("code")).fixedBitsCodes();
                assertTrue(codes.isDense());
                assertThat(codes.count(), equalTo(100));
                assertThat(codes.bytesPerCode(), equalTo(4));
                IndexInput in = codes.codes();
                assertThat(in.length(), equalTo(400L));
                in.seek(4 * 42);
                assertThat(in.readByte(), equalTo((byte) 42));
            }
        }
    }

    /** The byte layout the format's javadoc gives: 8 KiB blocks (512 codes of 128 bits), word planes inside a block. */
    public void testWordPlanesLayout() throws IOException {
        int perBlock = 512;
        int docs = 2 * perBlock + between(1, perBlock - 1);
        try (Directory dir = newDirectory()) {
            try (IndexWriter writer = new IndexWriter(dir, config(codec()))) {
                for (int i = 0; i < docs; i++) {
                    ByteBuffer code = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                    code.putLong(2L * i).putLong(2L * i + 1); // word 0 and word 1 of code i
                    Document doc = new Document();
                    doc.add(new BinaryDocValuesField("code", new BytesRef(code.array())));
                    writer.addDocument(doc);
                }
                writer.forceMerge(1);
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                FixedBitsCodes codes = ((FixedBitsValues) reader.leaves().get(0).reader().getBinaryDocValues("code")).fixedBitsCodes();
                assertThat(codes.codesPerBlock(), equalTo(perBlock));
                assertThat(codes.wordsPerCode(), equalTo(2));
                IndexInput in = codes.codes();
                for (int i : new int[] { 0, 1, perBlock - 1, perBlock, perBlock + 1, 2 * perBlock, docs - 1, between(0, docs - 1) }) {
                    int block = i / perBlock;
                    int inBlock = Math.min(perBlock, docs - block * perBlock);
                    for (int word = 0; word < 2; word++) {
                        long offset = (long) block * perBlock * 16 + ((long) word * inBlock + i % perBlock) * 8;
                        assertThat(codes.wordOffset(i, word), equalTo(offset));
                        in.seek(offset);
                        assertThat("code " + i + " word " + word, in.readLong(), equalTo(2L * i + word));
                    }
                }
            }
        }
    }

    public void testDeclaredWidthRefusesOtherLengths() throws IOException {
        Codec declared = TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat(field -> field.equals("code") ? new FixedBitsDocValuesFormat.FieldSpec(8, FixedBitsDocValuesFormat.FieldSpec.NO_INDEX) : FixedBitsDocValuesFormat.FieldSpec.UNKNOWN));
        try (Directory dir = newDirectory()) {
            IndexWriter writer = new IndexWriter(dir, config(declared));
            try {
                Document good = new Document();
                good.add(new BinaryDocValuesField("code", new BytesRef(new byte[8])));
                writer.addDocument(good);
                Document bad = new Document();
                bad.add(new BinaryDocValuesField("code", new BytesRef(new byte[9])));
                writer.addDocument(bad);
                IllegalArgumentException e = expectThrows(IllegalArgumentException.class, writer::commit);
                assertThat(e.getMessage(), containsString("field [code] stores codes of 8 bytes (64 bits) but document 1 has a value of 9 bytes"));
            } finally {
                writer.rollback();
            }
        }
    }

    public void testCorruptedDataFailsTheSegmentWhenItOpens() throws IOException {
        try (Directory dir = newDirectory()) {
            writeDense(dir, 8);
            disableCheckIndexOnClose(dir);
            // The largest data file, so that the flipped byte lies among the codes, not in the header.
            String data = largest(dir, ".dvd");
            flipByte(dir, data, 0.5);
            // Already when the segment opens (the query would read the flipped codes; nothing else would notice).
            CorruptIndexException e = expectThrows(CorruptIndexException.class, () -> DirectoryReader.open(dir).close());
            assertThat(e.getMessage(), containsString("checksum failed"));
            assertThat(e.getMessage(), containsString(data));
        }
    }

    private static String largest(Directory dir, String extension) throws IOException {
        String best = null;
        long bestLength = -1;
        for (String file : dir.listAll()) {
            if (file.contains(FixedBitsDocValuesFormat.NAME) && file.endsWith(extension) && file.contains("_v") == false) {
                long length = dir.fileLength(file);
                if (length > bestLength) {
                    best = file;
                    bestLength = length;
                }
            }
        }
        assertNotNull(best);
        return best;
    }

    public void testCorruptedMetadataFailsToOpen() throws IOException {
        try (Directory dir = newDirectory()) {
            writeDense(dir, 16);
            disableCheckIndexOnClose(dir);
            String meta = largest(dir, ".dvm");
            flipByte(dir, meta, 0.6);
            expectThrows(CorruptIndexException.class, () -> DirectoryReader.open(dir).close());
        }
    }

    private void writeDense(Directory dir, int bytesPerCode) throws IOException {
        try (IndexWriter writer = new IndexWriter(dir, config(codec()))) {
            for (int i = 0; i < between(100, 1000); i++) {
                Document doc = new Document();
                doc.add(new BinaryDocValuesField("code", new BytesRef(randomByteArrayOfLength(bytesPerCode))));
                writer.addDocument(doc);
            }
        }
    }

    private static void disableCheckIndexOnClose(Directory dir) {
        // Any wrapper newDirectory() hands out, not only MockDirectoryWrapper, runs CheckIndex on close.
        if (dir instanceof org.apache.lucene.tests.store.BaseDirectoryWrapper wrapper) {
            wrapper.setCheckIndexOnClose(false);
        }
    }

    /** Rewrites {@code name} with one byte flipped at the given fraction of its length (before the footer). */
    private static void flipByte(Directory dir, String name, double where) throws IOException {
        byte[] bytes;
        try (IndexInput in = dir.openInput(name, IOContext.DEFAULT)) {
            bytes = new byte[(int) in.length()];
            in.readBytes(bytes, 0, bytes.length);
        }
        int position = (int) ((bytes.length - 16) * where);
        bytes[position] ^= 0x5A;
        dir.deleteFile(name);
        try (IndexOutput out = dir.createOutput(name, IOContext.DEFAULT)) {
            out.writeBytes(bytes, bytes.length);
        }
    }
}
