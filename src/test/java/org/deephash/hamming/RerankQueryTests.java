package org.deephash.hamming;

import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.Term;
import org.apache.lucene.queries.function.FunctionScoreQuery;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DoubleValuesSource;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.index.RandomIndexWriter;
import org.apache.lucene.util.BytesRef;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The coarse-to-fine query on random multi-segment indices: the hits must be the {@code window}
 * nearest codes (either way at a tie on the window's edge), scored and ordered by the fine query,
 * with 0 for a candidate the fine query does not match; checked against a brute-force oracle, also
 * inside a conjunction (which advances the candidates' iterator).
 */
public class RerankQueryTests extends ESTestCase {

    public void testWindowOfNearestCodesOrderedByTheFineScore() throws IOException {
        int bits = randomFrom(64, 128, 8 * between(1, 40));
        Map<String, byte[]> codes = new HashMap<>();
        Map<String, Long> values = new HashMap<>();
        Map<String, String> colours = new HashMap<>();
        try (Directory dir = newDirectory()) {
            try (RandomIndexWriter writer = new RandomIndexWriter(random(), dir, newIndexWriterConfig())) {
                byte[] centre = HammingOracle.randomCode(random(), bits);
                int docs = between(1, 1500);
                for (int i = 0; i < docs; i++) {
                    Document doc = new Document();
                    String id = Integer.toString(i);
                    doc.add(new StringField("id", id, Field.Store.YES));
                    String colour = randomFrom("red", "blue");
                    colours.put(id, colour);
                    doc.add(new StringField("colour", colour, Field.Store.NO));
                    if (rarely() == false) {
                        byte[] code = randomBoolean() ? HammingOracle.flip(random(), centre, between(0, 10)) : HammingOracle.randomCode(random(), bits);
                        codes.put(id, code);
                        doc.add(new BinaryDocValuesField("hash", new BytesRef(code)));
                    }
                    if (rarely() == false) {
                        long v = between(1, 1_000_000);
                        values.put(id, v);
                        doc.add(new NumericDocValuesField("v", v));
                    }
                    writer.addDocument(doc);
                    if (rarely()) {
                        writer.commit();
                    }
                }
                try (IndexReader reader = writer.getReader()) {
                    IndexSearcher searcher = newSearcher(reader);
                    for (int q = 0; q < 10; q++) {
                        byte[] query = randomBoolean() ? HammingOracle.flip(random(), centre, between(0, 4)) : HammingOracle.randomCode(random(), bits);
                        int window = between(1, 200);
                        Query fine = new FunctionScoreQuery(new MatchAllDocsQuery(), DoubleValuesSource.fromLongField("v"));
                        Query rerank = new RerankQuery(new HammingQuery("hash", HashCode.ofBytes(query), bits), fine, window);
                        check(searcher, searcher.search(rerank, 10_000), query, window, codes, values, null, colours);
                        // Inside a conjunction the candidates are advanced to, not walked: the filter applies after the window.
                        String colour = randomFrom("red", "blue");
                        Query filtered = new BooleanQuery.Builder().add(rerank, BooleanClause.Occur.MUST)
                            .add(new TermQuery(new Term("colour", colour)), BooleanClause.Occur.FILTER)
                            .build();
                        check(searcher, searcher.search(filtered, 10_000), query, window, codes, values, colour, colours);
                    }
                }
            }
        }
    }

    private static void check(
        IndexSearcher searcher,
        TopDocs top,
        byte[] query,
        int window,
        Map<String, byte[]> codes,
        Map<String, Long> values,
        String colour,
        Map<String, String> colours
    ) throws IOException {
        List<Integer> distances = new ArrayList<>();
        codes.values().forEach(c -> distances.add(HammingOracle.distance(query, c)));
        distances.sort(null);
        int shown = Math.min(window, distances.size());
        int edge = shown == 0 ? -1 : distances.get(shown - 1);
        int nearer = 0;
        for (byte[] c : codes.values()) {
            if (HammingOracle.distance(query, c) < edge) {
                nearer++;
            }
        }
        Set<String> got = new HashSet<>();
        float previous = Float.POSITIVE_INFINITY;
        int inColour = 0;
        for (ScoreDoc sd : top.scoreDocs) {
            String id = searcher.storedFields().document(sd.doc).get("id");
            got.add(id);
            assertTrue("a hit without a code: " + id, codes.containsKey(id));
            int d = HammingOracle.distance(query, codes.get(id));
            assertTrue("hit " + id + " at " + d + " is beyond the window's edge " + edge, d <= edge);
            assertEquals(id, values.getOrDefault(id, 0L).floatValue(), sd.score, 0f);
            assertTrue("scores must not increase", sd.score <= previous);
            previous = sd.score;
            if (colour != null) {
                assertEquals(colour, colours.get(id));
            }
        }
        for (Map.Entry<String, byte[]> e : codes.entrySet()) {
            boolean wanted = colour == null || colour.equals(colours.get(e.getKey()));
            if (HammingOracle.distance(query, e.getValue()) < edge && wanted) {
                assertTrue("a code nearer than the window's edge is missing: " + e.getKey(), got.contains(e.getKey()));
                inColour++;
            }
        }
        if (colour == null) {
            assertEquals(shown, top.scoreDocs.length);
            assertEquals(nearer, inColour);
        }
    }
}
