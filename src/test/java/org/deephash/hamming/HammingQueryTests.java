package org.deephash.hamming;

import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TaskExecutor;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.index.RandomIndexWriter;
import org.apache.lucene.tests.util.TestUtil;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.hamcrest.Matchers.anyOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.lessThanOrEqualTo;

/** The Lucene query alone, on randomly built multi-segment indices, against a brute-force oracle. */
public class HammingQueryTests extends ESTestCase {

    private record Hit(String id, int distance) {}

    private int bits;
    private Map<String, byte[]> codes;
    private Map<String, String> colours;

    /** Both storage paths: the plugin's format (block scan) and whatever format the test framework picks (one by one). */
    private IndexReader buildIndex(Directory dir, int docs, boolean fixedBitsFormat) throws IOException {
        codes = new HashMap<>();
        colours = new HashMap<>();
        IndexWriterConfig config = newIndexWriterConfig();
        if (fixedBitsFormat) {
            config.setCodec(TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat()));
        }
        try (RandomIndexWriter writer = new RandomIndexWriter(random(), dir, config)) {
            byte[] centre = HammingOracle.randomCode(random(), bits);
            double density = randomFrom(1.0, 0.95, 0.3);
            for (int i = 0; i < docs; i++) {
                Document doc = new Document();
                String id = Integer.toString(i);
                doc.add(new StringField("id", id, Field.Store.YES));
                String colour = randomFrom("red", "green", "blue");
                colours.put(id, colour);
                doc.add(new StringField("colour", colour, Field.Store.NO));
                if (random().nextDouble() < density) {
                    // Many codes near one centre, so that small radii match something and ties occur.
                    byte[] code = randomBoolean()
                        ? HammingOracle.flip(random(), centre, between(0, Math.min(bits, 12)))
                        : HammingOracle.randomCode(random(), bits);
                    codes.put(id, code);
                    doc.add(new BinaryDocValuesField("hash", new BytesRef(code)));
                }
                writer.addDocument(doc);
                if (rarely()) {
                    writer.commit();
                }
            }
            return writer.getReader();
        }
    }

    private List<Hit> oracle(byte[] query, int maxDistance, String colour) {
        List<Hit> hits = new ArrayList<>();
        codes.forEach((id, code) -> {
            int d = HammingOracle.distance(query, code);
            if (d <= maxDistance && (colour == null || colour.equals(colours.get(id)))) {
                hits.add(new Hit(id, d));
            }
        });
        hits.sort(Comparator.comparingInt(Hit::distance));
        return hits;
    }

    private byte[] randomQuery() {
        List<byte[]> indexed = new ArrayList<>(codes.values());
        if (indexed.isEmpty() || randomBoolean()) {
            return HammingOracle.randomCode(random(), bits);
        }
        return HammingOracle.flip(random(), randomFrom(indexed), between(0, 6));
    }

    private static String id(IndexSearcher searcher, int doc) throws IOException {
        return searcher.storedFields().document(doc).get("id");
    }

    public void testTopKAndRadiusMatchOracleWithTheFormat() throws IOException {
        checkTopKAndRadius(true);
    }

    public void testTopKAndRadiusMatchOracleWithPlainBinaryDocValues() throws IOException {
        checkTopKAndRadius(false);
    }

    private void checkTopKAndRadius(boolean fixedBitsFormat) throws IOException {
        bits = randomFrom(64, 128, 256, 8 * between(1, 80));
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(1, 5000), fixedBitsFormat)) {
            IndexSearcher searcher = newSearcher(reader);
            for (LeafReaderContext leaf : reader.leaves()) {
                HammingIterator it = HammingIterator.open(leaf.reader(), "hash", HammingKernel.forCode(HashCode.ofBytes(new byte[bits / 8])), bits);
                if (it != null) {
                    assertThat(it, instanceOf(fixedBitsFormat ? HammingIterator.BlockScan.class : HammingIterator.OneByOne.class));
                }
            }
            for (int round = 0; round < 20; round++) {
                byte[] query = randomQuery();
                int maxDistance = randomBoolean() ? bits : between(0, bits / 2);
                String colour = randomBoolean() ? null : randomFrom("red", "green", "blue");
                float boost = randomBoolean() ? 1f : randomFloatBetween(0.1f, 10f, true);
                HammingQuery hamming = new HammingQuery("hash", HashCode.ofBytes(query), maxDistance);
                var q = colour == null
                    ? new org.apache.lucene.search.BoostQuery(hamming, boost)
                    : new BooleanQuery.Builder().add(new org.apache.lucene.search.BoostQuery(hamming, boost), BooleanClause.Occur.MUST)
                        .add(new TermQuery(new Term("colour", colour)), BooleanClause.Occur.FILTER)
                        .build();
                List<Hit> expected = oracle(query, maxDistance, colour);

                assertThat(searcher.count(q), equalTo(expected.size()));

                int k = between(1, 50);
                TopDocs top = searcher.search(q, k);
                assertThat(top.scoreDocs.length, equalTo(Math.min(k, expected.size())));
                for (int i = 0; i < top.scoreDocs.length; i++) {
                    ScoreDoc hit = top.scoreDocs[i];
                    int d = HammingOracle.distance(query, codes.get(id(searcher, hit.doc)));
                    // Same distance at each rank (ties may come in any order), and the score the formula gives.
                    assertThat("rank " + i, d, equalTo(expected.get(i).distance()));
                    assertThat(hit.score, equalTo(boost * (1f - (float) d / bits)));
                    assertThat(d, lessThanOrEqualTo(maxDistance));
                }

                TopDocs all = searcher.search(q, Math.max(1, expected.size()));
                Set<String> got = new HashSet<>();
                for (ScoreDoc hit : all.scoreDocs) {
                    got.add(id(searcher, hit.doc));
                }
                Set<String> want = new HashSet<>();
                expected.forEach(h -> want.add(h.id()));
                assertEquals(want, got);
            }
        }
    }

    /** Every (doc, distance) an iterator gives from {@code start} on, lowering its bound to {@code lowerTo} after {@code lowerAfter} of them. */
    private static List<long[]> walk(HammingIterator it, int start, int lowerAfter, int lowerTo) throws IOException {
        List<long[]> out = new ArrayList<>();
        for (int doc = start == 0 ? it.nextDoc() : it.advance(start); doc != DocIdSetIterator.NO_MORE_DOCS; doc = it.nextDoc()) {
            out.add(new long[] { doc, it.distance() });
            if (out.size() == lowerAfter) {
                it.lowerBound(lowerTo);
            }
        }
        return out;
    }

    /**
     * A segment's first pass in ranges gives what the lazy scan gives, in the same order: from the start
     * (the ranges answer), with a bound lowered on the way, past the cap (the scan answers alone), and
     * from an advance (stays lazy); sparse fields and deleted documents included.
     */
    public void testFirstPassInRangesGivesWhatTheScanGives() throws Exception {
        bits = randomFrom(64, 128, 8 * between(1, 40));
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(1, 6000), true)) {
            TaskExecutor tasks = new TaskExecutor(executor);
            for (int round = 0; round < 20; round++) {
                byte[] query = randomQuery();
                HammingKernel kernel = HammingKernel.forCode(HashCode.ofBytes(query));
                int maxDistance = between(0, bits - 1);
                int ranges = between(2, 7);
                boolean overflow = rarely();
                int start = randomBoolean() ? 0 : between(1, 100);
                int lowerAfter = randomBoolean() ? -1 : between(1, 20);
                int lowerTo = between(0, maxDistance);
                for (LeafReaderContext leaf : reader.leaves()) {
                    HammingIterator lazy = HammingIterator.open(leaf.reader(), "hash", kernel, maxDistance);
                    if (lazy == null) {
                        continue;
                    }
                    List<long[]> want = walk(lazy, start, lowerAfter, lowerTo);
                    HammingIterator scan = HammingIterator.open(leaf.reader(), "hash", kernel, maxDistance);
                    HammingIterator split = HammingIterator.firstPassInRanges(scan, leaf.reader(), "hash", tasks, ranges, overflow ? 0 : 1 << 20);
                    assertThat(split, instanceOf(HammingIterator.InRanges.class));
                    List<long[]> got = walk(split, start, lowerAfter, lowerTo);
                    assertThat(got.size(), equalTo(want.size()));
                    for (int i = 0; i < want.size(); i++) {
                        assertArrayEquals("match " + i, want.get(i), got.get(i));
                    }
                    if (start > 0) {
                        assertThat(split.decision(), equalTo("scan: asked for"));
                    } else if (overflow == false) {
                        assertThat(split.decision(), containsString("in " + ranges + " ranges"));
                    } else {
                        // Alone once one range has seen 1,024 matches.
                        assertThat(split.decision(), anyOf(containsString("in " + ranges + " ranges"), containsString("matches for ranges: alone")));
                    }
                }
            }
            // Every code matches: the collector's bound prunes a lazy scan, ranges would list everything.
            HammingIterator all = HammingIterator.open(reader.leaves().get(0).reader(), "hash", HammingKernel.forCode(HashCode.ofBytes(new byte[bits / 8])), bits);
            if (all != null) {
                assertSame(all, HammingIterator.firstPassInRanges(all, reader.leaves().get(0).reader(), "hash", tasks, 2, 1 << 20));
            }
        } finally {
            terminate(executor);
        }
    }

    /**
     * A radius query on one segment large enough for ranges (over twice the smallest range), through a
     * searcher with an executor: the hits equal the oracle's, with and without a filter leading.
     */
    public void testRadiusOnALargeSegmentMatchesOracle() throws Exception {
        bits = 64;
        int docs = 2 * HammingIterator.MIN_RANGE_DOCS + between(1, 10_000);
        codes = new HashMap<>();
        colours = new HashMap<>();
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try (Directory dir = newDirectory()) {
            IndexWriterConfig config = new IndexWriterConfig().setCodec(TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat()));
            byte[][] byDoc = new byte[docs][];
            try (IndexWriter writer = new IndexWriter(dir, config.setRAMBufferSizeMB(256))) {
                byte[] centre = HammingOracle.randomCode(random(), bits);
                for (int i = 0; i < docs; i++) {
                    Document doc = new Document();
                    String colour = i % 3 == 0 ? "red" : "blue";
                    doc.add(new StringField("colour", colour, Field.Store.NO));
                    byDoc[i] = i % 50 == 0 ? HammingOracle.flip(random(), centre, between(0, 8)) : HammingOracle.randomCode(random(), bits);
                    doc.add(new BinaryDocValuesField("hash", new BytesRef(byDoc[i])));
                    writer.addDocument(doc);
                }
                writer.forceMerge(1);
            }
            try (IndexReader reader = DirectoryReader.open(dir)) {
                assertThat(reader.leaves().size(), equalTo(1));
                IndexSearcher searcher = new IndexSearcher(reader, executor);
                searcher.setQueryCache(null);
                LeafReader segment = reader.leaves().get(0).reader();
                HammingKernel zeros = HammingKernel.forCode(HashCode.ofBytes(new byte[8]));
                if (Runtime.getRuntime().availableProcessors() >= 2) {
                    HammingIterator scan = HammingIterator.open(segment, "hash", zeros, 10);
                    assertThat(HammingIterator.firstPassInRanges(scan, segment, "hash", searcher.getTaskExecutor()), instanceOf(HammingIterator.InRanges.class));
                }
                // Most codes within 36 bits of any query: far more than the cap, so the scan answers alone.
                HammingIterator wide = HammingIterator.firstPassInRanges(
                    HammingIterator.open(segment, "hash", zeros, 36), segment, "hash", searcher.getTaskExecutor(), 2, HammingIterator.RANGES_CAP);
                List<long[]> wideMatches = walk(wide, 0, -1, 0);
                assertThat(wide.decision(), containsString("matches for ranges: alone"));
                assertThat(wideMatches.size(), equalTo(walk(HammingIterator.open(segment, "hash", zeros, 36), 0, -1, 0).size()));
                for (int round = 0; round < 5; round++) {
                    byte[] query = HammingOracle.flip(random(), byDoc[50 * between(0, docs / 50 - 1)], between(0, 3));
                    int maxDistance = randomFrom(4, 10, 16, 20);
                    boolean red = randomBoolean();
                    HammingQuery hamming = new HammingQuery("hash", HashCode.ofBytes(query), maxDistance);
                    var q = red == false
                        ? hamming
                        : new BooleanQuery.Builder().add(hamming, BooleanClause.Occur.MUST)
                            .add(new TermQuery(new Term("colour", "red")), BooleanClause.Occur.FILTER)
                            .build();
                    int[] expected = new int[bits + 1];
                    int count = 0;
                    for (int i = 0; i < docs; i++) {
                        int d = HammingOracle.distance(query, byDoc[i]);
                        if (d <= maxDistance && (red == false || i % 3 == 0)) {
                            expected[d]++;
                            count++;
                        }
                    }
                    TopDocs top = searcher.search(q, Math.max(1, count));
                    assertThat(top.scoreDocs.length, equalTo(count));
                    int[] got = new int[bits + 1];
                    for (ScoreDoc hit : top.scoreDocs) {
                        // The index was written in order and merged into one segment: doc ids are the order of addition.
                        int d = HammingOracle.distance(query, byDoc[hit.doc]);
                        assertThat(hit.score, equalTo(1f - (float) d / bits));
                        got[d]++;
                    }
                    assertArrayEquals(expected, got);
                }
            }
        } finally {
            terminate(executor);
        }
    }

    public void testExplainShowsDistance() throws IOException {
        bits = 64;
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, 50, randomBoolean())) {
            IndexSearcher searcher = newSearcher(reader);
            String id = randomFrom(new ArrayList<>(codes.keySet()));
            byte[] query = HammingOracle.flip(random(), codes.get(id), 5);
            int doc = searcher.search(new TermQuery(new Term("id", id)), 1).scoreDocs[0].doc;
            Explanation match = searcher.explain(new HammingQuery("hash", HashCode.ofBytes(query), 64), doc);
            assertTrue(match.isMatch());
            assertThat(match.getValue().floatValue(), equalTo(1f - 5f / 64));
            assertThat(match.toString(), containsString("hamming distance 5 of 64 bits"));
            Explanation miss = searcher.explain(new HammingQuery("hash", HashCode.ofBytes(query), 4), doc);
            assertFalse(miss.isMatch());
            assertThat(miss.getDescription(), containsString("exceeds max_distance 4"));
        }
    }

    public void testSegmentWithoutFieldMatchesNothing() throws IOException {
        try (Directory dir = newDirectory()) {
            try (RandomIndexWriter writer = new RandomIndexWriter(random(), dir)) {
                writer.addDocument(new Document());
            }
            try (IndexReader reader = DirectoryReader.open(dir)) {
                assertThat(newSearcher(reader).count(new HammingQuery("hash", HashCode.ofBytes(new byte[8]), 64)), equalTo(0));
            }
        }
    }

    public void testMaxDistanceIsChecked() {
        HashCode code = HashCode.ofBytes(new byte[8]);
        expectThrows(IllegalArgumentException.class, () -> new HammingQuery("hash", code, -1));
        expectThrows(IllegalArgumentException.class, () -> new HammingQuery("hash", code, 65));
    }

    public void testEqualsAndToString() {
        HashCode code = HashCode.fromHex("00ff00ff00ff00ff");
        assertEquals(new HammingQuery("h", code, 3), new HammingQuery("h", HashCode.fromHex("00FF00FF00FF00FF"), 3));
        assertNotEquals(new HammingQuery("h", code, 3), new HammingQuery("h", code, 4));
        assertNotEquals(new HammingQuery("h", code, 3), new HammingQuery("g", code, 3));
        assertThat(new HammingQuery("h", code, 3).toString(), equalTo("hamming(h:00ff00ff00ff00ff, max_distance=3)"));
    }
}
