package org.deephash.bwc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentReader;
import org.apache.lucene.index.SoftDeletesDirectoryReaderWrapper;
import org.apache.lucene.index.SortedSetDocValues;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.codec.FixedBitsValues;
import org.deephash.compat.TestCompat;
import org.deephash.engine.DeepHash912Codec;
import org.deephash.hamming.CostModel;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HammingTopKQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.SearchStrategy;
import org.elasticsearch.common.lucene.Lucene;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Indices written by earlier builds, committed under {@code src/test/resources/org/deephash/bwc/} by
 * {@code integ-tests/bwc/make_bwc.py}, must be read by this build exactly as recorded then: every live
 * document's codes, and every recorded {@code hamming} query's answer (scores, and the documents above the
 * k-th score or within the radius). Each on-disk format gets its resource when it is introduced and keeps it
 * for good, as Lucene's backward-codecs tests do; a format change that breaks one is a new format, not an edit.
 */
public class BackwardIndexTests extends ESTestCase {
    /** One entry per format and the Elasticsearch release that wrote it; only ever appended to. */
    static final List<String> INDICES = List.of("fixedbits819-es8.19.21", "fixedbits819v2-es8.19.21");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SOFT_DELETES = Lucene.SOFT_DELETES_FIELD;

    public void testEveryRecordedIndexAnswersAsRecorded() throws Exception {
        for (String name : INDICES) {
            JsonNode record;
            try (InputStream in = resource(name + ".json")) {
                record = JSON.readTree(in);
            }
            Path dir = createTempDir(name);
            unzip(name + "-index.zip", dir);
            try (Directory directory = newFSDirectory(dir); DirectoryReader raw = DirectoryReader.open(directory)) {
                checkFormats(name, raw, record);
                // Elasticsearch deletes softly: its deleted documents and delete tombstones are live to Lucene
                // until this wrapper (what Elasticsearch reads through) hides them.
                DirectoryReader reader = new SoftDeletesDirectoryReaderWrapper(raw, SOFT_DELETES);
                checkCodes(name, reader, record);
                checkQueries(name, reader, record);
            }
        }
    }

    private static void checkFormats(String name, DirectoryReader reader, JsonNode record) throws IOException {
        assertEquals(name + ": segments", record.get("segments").asInt(), reader.leaves().size());
        for (LeafReaderContext leaf : reader.leaves()) {
            SegmentReader segment = (SegmentReader) leaf.reader();
            assertEquals(name + ": codec", DeepHash912Codec.NAME, segment.getSegmentInfo().info.getCodec().getName());
            for (Iterator<String> it = record.get("fields").fieldNames(); it.hasNext();) {
                String field = it.next();
                var info = segment.getFieldInfos().fieldInfo(field);
                if (info != null) {
                    assertEquals(name + ": format of " + field, FixedBitsDocValuesFormat.NAME, info.getAttribute("PerFieldDocValuesFormat.format"));
                    BinaryDocValues values = segment.getBinaryDocValues(field);
                    boolean tables = values instanceof FixedBitsValues fixed && fixed.fixedBitsCodes().multiIndex() != null;
                    assertEquals(name + ": multi-index tables of " + field, record.path("multi_index").asBoolean(false), tables);
                }
            }
        }
    }

    private static void checkCodes(String name, DirectoryReader reader, JsonNode record) throws IOException {
        Map<String, Map<String, String>> found = new TreeMap<>();
        for (LeafReaderContext leaf : reader.leaves()) {
            LeafReader r = leaf.reader();
            Bits live = r.getLiveDocs();
            String[] ids = ids(r);
            for (Iterator<String> it = record.get("fields").fieldNames(); it.hasNext();) {
                String field = it.next();
                BinaryDocValues values = r.getBinaryDocValues(field);
                for (int doc = values == null ? Integer.MAX_VALUE : values.nextDoc(); doc != BinaryDocValues.NO_MORE_DOCS; doc = values.nextDoc()) {
                    if (live == null || live.get(doc)) {
                        BytesRef b = values.binaryValue();
                        found.computeIfAbsent(ids[doc], k -> new TreeMap<>()).put(field, HashCode.toHex(b.bytes, b.offset, b.length));
                    }
                }
            }
            for (int doc = 0; doc < r.maxDoc(); doc++) {
                if (live == null || live.get(doc)) {
                    found.computeIfAbsent(ids[doc], k -> new TreeMap<>());
                }
            }
        }
        Map<String, Map<String, String>> expected = new TreeMap<>();
        record.get("docs").fields().forEachRemaining(e -> {
            Map<String, String> codes = new TreeMap<>();
            e.getValue().fields().forEachRemaining(c -> codes.put(c.getKey(), c.getValue().asText()));
            expected.put(e.getKey(), codes);
        });
        assertEquals(name + ": live documents", record.get("live_docs").asInt(), found.size());
        assertEquals(name + ": every live document's codes", expected, found);
    }

    private static void checkQueries(String name, DirectoryReader reader, JsonNode record) throws IOException {
        IndexSearcher searcher = new IndexSearcher(reader);
        Map<Integer, String> idOf = new HashMap<>();
        for (LeafReaderContext leaf : reader.leaves()) {
            String[] ids = ids(leaf.reader());
            for (int doc = 0; doc < ids.length; doc++) {
                idOf.put(leaf.docBase + doc, ids[doc]);
            }
        }
        for (JsonNode q : record.get("queries")) {
            JsonNode hamming = q.get("request").get("query").get("hamming");
            String field = hamming.get("field").asText();
            HashCode code = HashCode.fromHex(hamming.get("code").asText());
            int radius = hamming.has("max_distance") ? hamming.get("max_distance").asInt() : code.bits();
            SearchStrategy strategy = hamming.has("strategy") ? SearchStrategy.parse(hamming.get("strategy").asText()) : SearchStrategy.AUTO;
            Query query = hamming.has("k")
                ? new HammingTopKQuery(field, code, radius, hamming.get("k").asInt(), strategy, CostModel.DEFAULT)
                : new HammingQuery(field, code, radius, strategy, CostModel.DEFAULT);
            int size = q.get("request").get("size").asInt();
            String what = name + ": " + q.get("request");
            TopDocs top = searcher.search(query, size);
            assertEquals(what + " total", q.get("total").asLong(), searcher.count(query));
            List<Float> scores = new ArrayList<>();
            for (ScoreDoc sd : top.scoreDocs) {
                scores.add(sd.score);
            }
            List<Float> recordedScores = new ArrayList<>();
            Map<String, Float> recorded = new TreeMap<>();
            for (JsonNode hit : q.get("hits")) {
                recordedScores.add((float) hit.get(1).asDouble());
                recorded.put(hit.get(0).asText(), (float) hit.get(1).asDouble());
            }
            assertEquals(what + " scores", recordedScores, scores);
            // Ids: all of them within a radius; above the k-th score for top-k (ties at the k-th may come in any order).
            float kth = scores.isEmpty() ? 0 : scores.get(scores.size() - 1);
            boolean all = TestCompat.count(top.totalHits) <= size;
            for (ScoreDoc sd : top.scoreDocs) {
                if (all || sd.score > kth) {
                    String id = idOf.get(sd.doc);
                    assertEquals(what + " score of " + id, recorded.get(id), sd.score, 0f);
                }
            }
        }
    }

    private static String[] ids(LeafReader r) throws IOException {
        String[] ids = new String[r.maxDoc()];
        SortedSetDocValues values = r.getSortedSetDocValues("doc_id");
        for (int doc = values.nextDoc(); doc != SortedSetDocValues.NO_MORE_DOCS; doc = values.nextDoc()) {
            ids[doc] = values.lookupOrd(values.nextOrd()).utf8ToString();
        }
        return ids;
    }

    private static InputStream resource(String file) {
        InputStream in = BackwardIndexTests.class.getResourceAsStream(file);
        assertNotNull("missing test resource org/deephash/bwc/" + file + " (integ-tests/bwc/make_bwc.py writes it)", in);
        return in;
    }

    private static void unzip(String file, Path dir) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(resource(file))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                Path target = dir.resolve(e.getName()).normalize();
                assertTrue("zip entry outside the directory: " + e.getName(), target.startsWith(dir));
                Files.createDirectories(target.getParent());
                Files.copy(zip, target);
            }
        }
    }
}
