package org.deephash.hamming;

import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.MultiBits;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.index.RandomIndexWriter;
import org.apache.lucene.tests.util.TestUtil;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsCodes;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.deephash.codec.FixedBitsValues;
import org.deephash.codec.MultiIndexTable;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;

/**
 * The multi-index tables and the queries that use them, on random multi-segment indices with deletes
 * and documents without codes, against a brute-force oracle: every strategy gives the oracle's answer.
 */
public class MultiIndexSearchTests extends ESTestCase {

    /** A hit, ordered by distance then by document (how Lucene's top-hits collector breaks ties). */
    private record Hit(String id, int distance, int doc) {}

    private static final Comparator<Hit> NEAREST = Comparator.comparingInt(Hit::distance).thenComparingInt(Hit::doc);

    private int bits;
    private Map<String, byte[]> codes;
    private Map<String, String> colours;
    private Map<String, Integer> docOf;

    private IndexReader buildIndex(Directory dir, int docs, int substrings) throws IOException {
        codes = new HashMap<>();
        colours = new HashMap<>();
        IndexWriterConfig config = newIndexWriterConfig();
        FieldSpec spec = new FieldSpec(bits / 8, substrings);
        config.setCodec(TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat(f -> f.equals("hash") ? spec : FieldSpec.UNKNOWN)));
        try (RandomIndexWriter writer = new RandomIndexWriter(random(), dir, config)) {
            // Clusters of near-identical codes (as a real collection has) and uniform ones.
            List<byte[]> centres = new ArrayList<>();
            for (int c = between(1, 5); c > 0; c--) {
                centres.add(HammingOracle.randomCode(random(), bits));
            }
            double density = randomFrom(1.0, 0.9, 0.3);
            for (int i = 0; i < docs; i++) {
                Document doc = new Document();
                String id = Integer.toString(i);
                doc.add(new StringField("id", id, Field.Store.YES));
                String colour = randomFrom("red", "green", "blue");
                colours.put(id, colour);
                doc.add(new StringField("colour", colour, Field.Store.NO));
                if (random().nextDouble() < density) {
                    byte[] code = randomBoolean()
                        ? HammingOracle.flip(random(), randomFrom(centres), between(0, Math.min(bits, 10)))
                        : HammingOracle.randomCode(random(), bits);
                    codes.put(id, code);
                    doc.add(new BinaryDocValuesField("hash", new BytesRef(code)));
                }
                writer.addDocument(doc);
                if (rarely()) {
                    writer.commit();
                }
            }
            for (int i = between(0, docs / 10); i > 0; i--) {
                String id = Integer.toString(between(0, docs - 1));
                writer.deleteDocuments(new Term("id", id));
                codes.remove(id);
                colours.remove(id);
            }
            if (rarely()) {
                writer.forceMerge(1);
            }
            IndexReader reader = writer.getReader();
            docOf = new HashMap<>();
            Bits live = MultiBits.getLiveDocs(reader);
            for (int doc = 0; doc < reader.maxDoc(); doc++) {
                if (live == null || live.get(doc)) {
                    docOf.put(reader.storedFields().document(doc).get("id"), doc);
                }
            }
            return reader;
        }
    }

    /** Every live document within {@code maxDistance}, nearest first. */
    private List<Hit> oracle(byte[] query, int maxDistance, String colour) {
        List<Hit> hits = new ArrayList<>();
        codes.forEach((id, code) -> {
            int d = HammingOracle.distance(query, code);
            if (d <= maxDistance && (colour == null || colour.equals(colours.get(id)))) {
                hits.add(new Hit(id, d, docOf.get(id)));
            }
        });
        hits.sort(NEAREST);
        return hits;
    }

    private byte[] randomQuery() {
        List<byte[]> indexed = new ArrayList<>(codes.values());
        if (indexed.isEmpty() || rarely()) {
            return HammingOracle.randomCode(random(), bits);
        }
        return HammingOracle.flip(random(), randomFrom(indexed), between(0, 8));
    }

    private List<Hit> hits(IndexSearcher searcher, Query query, int size) throws IOException {
        TopDocs top = searcher.search(query, Math.max(1, size));
        List<Hit> hits = new ArrayList<>();
        for (ScoreDoc sd : top.scoreDocs) {
            String id = searcher.storedFields().document(sd.doc).get("id");
            int d = Math.round((1f - sd.score) * bits);
            hits.add(new Hit(id, d, sd.doc));
        }
        hits.sort(NEAREST);
        return hits;
    }

    private int randomBits() {
        // Widths where m does not divide the bits, one-word and multi-word codes, byte-wise widths.
        return randomFrom(8, 16, 24, 40, 64, 72, 128, 136, 256, 8 * between(1, 64));
    }

    private int randomSubstrings() {
        int fewest = (bits + MultiIndexTable.MAX_SUBSTRING_BITS - 1) / MultiIndexTable.MAX_SUBSTRING_BITS;
        return randomBoolean() ? FieldSpec.AUTO_SUBSTRINGS : between(fewest, Math.min(bits, fewest + 10));
    }

    public void testRadiusMatchesOracleWithEveryStrategy() throws IOException {
        bits = randomBits();
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(1, 4000), randomSubstrings())) {
            IndexSearcher searcher = newSearcher(reader);
            for (int round = 0; round < 15; round++) {
                byte[] query = randomQuery();
                int maxDistance = randomFrom(0, 1, 2, between(0, bits), between(0, Math.min(bits, 16)));
                String colour = randomBoolean() ? null : randomFrom("red", "green", "blue");
                List<Hit> expected = oracle(query, maxDistance, colour);
                for (SearchStrategy strategy : SearchStrategy.values()) {
                    Query hamming = new HammingQuery("hash", HashCode.ofBytes(query), maxDistance, strategy, CostModel.DEFAULT);
                    Query q = colour == null
                        ? hamming
                        : new BooleanQuery.Builder().add(hamming, BooleanClause.Occur.MUST)
                            .add(new TermQuery(new Term("colour", colour)), BooleanClause.Occur.FILTER)
                            .build();
                    assertThat(strategy + " radius " + maxDistance, hits(searcher, q, expected.size()), equalTo(expected));
                }
            }
        }
    }

    public void testTopKMatchesOracleWithEveryStrategy() throws IOException {
        bits = randomBits();
        ExecutorService executor = randomBoolean() ? Executors.newFixedThreadPool(between(2, 4)) : null;
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(1, 4000), randomSubstrings())) {
            IndexSearcher searcher = executor == null ? newSearcher(reader) : new IndexSearcher(reader, executor);
            for (int round = 0; round < 15; round++) {
                byte[] query = randomQuery();
                int maxDistance = randomBoolean() ? bits : between(0, bits);
                int k = randomFrom(1, 10, between(1, 100), between(1, 10_000));
                List<Hit> expected = oracle(query, maxDistance, null);
                expected = expected.subList(0, Math.min(k, expected.size()));
                for (SearchStrategy strategy : SearchStrategy.values()) {
                    Query q = new HammingTopKQuery("hash", HashCode.ofBytes(query), maxDistance, k, strategy, CostModel.DEFAULT);
                    // Asking for more than k hits shows that only k match.
                    List<Hit> got = hits(searcher, q, k + 5);
                    assertThat(strategy + " top " + k + " within " + maxDistance, got, equalTo(expected));
                    assertThat(searcher.count(q), equalTo(expected.size()));
                }
            }
        } finally {
            if (executor != null) {
                executor.shutdown();
            }
        }
    }

    /** Ties at the k-th distance go to the lowest documents, as a ranking of every document would give. */
    public void testTopKBreaksTiesByDocument() throws IOException {
        bits = 64;
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(200, 2000), FieldSpec.AUTO_SUBSTRINGS)) {
            IndexSearcher searcher = newSearcher(reader);
            byte[] query = randomQuery();
            int k = between(1, 50);
            for (SearchStrategy strategy : SearchStrategy.values()) {
                TopDocs everything = searcher.search(new HammingQuery("hash", HashCode.ofBytes(query), bits, SearchStrategy.SCAN, CostModel.DEFAULT), k);
                TopDocs top = searcher.search(new HammingTopKQuery("hash", HashCode.ofBytes(query), bits, k, strategy, CostModel.DEFAULT), k);
                assertThat(top.scoreDocs.length, equalTo(everything.scoreDocs.length));
                for (int i = 0; i < top.scoreDocs.length; i++) {
                    assertThat(top.scoreDocs[i].doc, equalTo(everything.scoreDocs[i].doc));
                    assertThat(top.scoreDocs[i].score, equalTo(everything.scoreDocs[i].score));
                }
            }
        }
    }

    /** The tables hold every code of the segment under its substring values, bucket by bucket. */
    public void testTablesListEveryCodeUnderItsSubstrings() throws IOException {
        bits = randomBits();
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(1, 3000), randomSubstrings())) {
            for (LeafReaderContext leaf : reader.leaves()) {
                BinaryDocValues values = leaf.reader().getBinaryDocValues("hash");
                if (values == null) {
                    continue;
                }
                FixedBitsCodes fixed = ((FixedBitsValues) values).fixedBitsCodes();
                MultiIndexTable table = fixed.multiIndex();
                assertThat(table, notNullValue());
                Map<Integer, byte[]> byDoc = new HashMap<>();
                for (int doc = values.nextDoc(); doc != BinaryDocValues.NO_MORE_DOCS; doc = values.nextDoc()) {
                    byDoc.put(doc, BytesRef.deepCopyOf(values.binaryValue()).bytes);
                }
                int covered = 0;
                for (int j = 0; j < table.substrings(); j++) {
                    int seen = 0;
                    int buckets = 1 << table.directoryBits(j);
                    for (int b = 0; b < buckets; b++) {
                        int previous = -1;
                        for (long i = table.bucketStart(j, b); i < table.bucketStart(j, b + 1); i++) {
                            long entry = table.entry(j, i);
                            int doc = table.doc(j, entry);
                            assertTrue("documents in increasing order in a bucket", doc > previous);
                            previous = doc;
                            byte[] code = byDoc.get(doc);
                            assertThat(table.value(j, b, entry), equalTo(substringOracle(code, table.start(j), table.length(j))));
                            seen++;
                        }
                    }
                    assertThat(seen, equalTo(byDoc.size()));
                    covered += table.length(j);
                }
                assertThat("substrings cover the code", covered, equalTo(bits));
            }
        }
    }

    /** Bit by bit: bit i of the code is bit i % 8 of byte i / 8; the substring's first bit is its lowest. */
    private static long substringOracle(byte[] code, int start, int length) {
        long value = 0;
        for (int i = 0; i < length; i++) {
            int bit = start + i;
            value |= (long) ((code[bit / 8] >> (bit % 8)) & 1) << i;
        }
        return value;
    }

    public void testExplainSaysWhichWayTheSegmentWasSearched() throws IOException {
        bits = 64;
        try (Directory dir = newDirectory(); IndexReader reader = buildIndex(dir, between(50, 500), FieldSpec.AUTO_SUBSTRINGS)) {
            IndexSearcher searcher = newSearcher(reader);
            byte[] query = randomFrom(new ArrayList<>(codes.values()));
            for (SearchStrategy strategy : new SearchStrategy[] { SearchStrategy.SCAN, SearchStrategy.INDEX }) {
                Query q = new HammingQuery("hash", HashCode.ofBytes(query), 3, strategy, CostModel.DEFAULT);
                TopDocs top = searcher.search(q, 1);
                Explanation explanation = searcher.explain(q, top.scoreDocs[0].doc);
                assertTrue(explanation.isMatch());
                assertThat(explanation.toString(), containsString(strategy == SearchStrategy.SCAN ? "scan: asked for" : "multi_index:"));
            }
            Query topK = new HammingTopKQuery("hash", HashCode.ofBytes(query), bits, 3, SearchStrategy.INDEX, CostModel.DEFAULT);
            TopDocs top = searcher.search(topK, 1);
            assertThat(searcher.explain(topK, top.scoreDocs[0].doc).toString(), containsString("multi_index:"));
        }
    }

    /**
     * {@code auto} top-k on one segment: where codes spread evenly (the query's nearest lie far beyond the
     * tables' reach), it gives up after the short first look, having spent only a few percent of a scan,
     * even though each query's own source code lies near; where codes gather near the query (small
     * clusters: its nearest are its cluster's other codes), it looks on and answers from the tables, equal
     * to the oracle. Twenty queries each: every evenly spread one scans; of the clustered ones at least
     * three quarters are answered by the tables (a query whose cluster's codes fill its buckets may be
     * cheaper to scan, and the cost model may say so).
     */
    public void testAutoTopKLooksOnOnlyWhereCodesGather() throws IOException {
        bits = 64;
        int k = 5;
        for (boolean clustered : new boolean[] { false, true }) {
            int docs = 100_000;
            // java.util.Random: the test framework's random().nextBytes fills 100,000 codes with two values of
            // some of their bytes, not uniformly.
            java.util.Random rnd = new java.util.Random(random().nextLong());
            List<byte[]> all = new ArrayList<>(docs);
            List<byte[]> centres = new ArrayList<>();
            for (int c = 0; c < docs / 20; c++) {
                centres.add(HammingOracle.randomCode(rnd, bits));
            }
            for (int i = 0; i < docs; i++) {
                all.add(clustered ? HammingOracle.flip(rnd, centres.get(i % centres.size()), rnd.nextInt(3)) : HammingOracle.randomCode(rnd, bits));
            }
            try (Directory dir = newDirectory()) {
                try (IndexReader reader = oneSegment(dir, all)) {
                    FixedBitsCodes fixed = codes(reader);
                    double scanCost = CostModel.DEFAULT.scan(fixed.count(), fixed.bytesPerCode());
                    int byTables = 0;
                    for (int q = 0; q < 20; q++) {
                        byte[] query = HammingOracle.flip(rnd, all.get(rnd.nextInt(docs)), 1);
                        HammingKernel kernel = HammingKernel.forCode(HashCode.ofBytes(query));
                        MultiIndexSearch search = new MultiIndexSearch(fixed.multiIndex(), fixed, kernel, query, reader.maxDoc(), CostModel.DEFAULT);
                        MultiIndexSearch.Candidates found = search.topK(k, bits, null, scanCost, false);
                        if (clustered == false && sortedDistances(query, all).get(1) <= bits / 5) {
                            // Evenly spread codes put two of 100,000 within 12 bits of each other now and then (by
                            // chance about 0.2 pairs within 7 bits, 1,100 within 12): where the query's source is one of
                            // such a pair, codes do gather near this query, and looking on is the rule working.
                            continue;
                        }
                        if (clustered == false) {
                            assertNull(search.decision(), found);
                            assertThat(search.decision(), containsString("scan:"));
                            // The short look (here, in a segment this small, the query's bucket in each of the 4 tables
                            // already costs 3-6% of a scan, by how many codes they hold), not a longer one nor a
                            // prediction from the lone source code (which looked on to a third of a scan before giving up).
                            assertTrue("spent " + search.spent() / scanCost + " of a scan: " + search.decision(), search.spent() < 0.15 * scanCost);
                        } else if (found != null) {
                            byTables++;
                            assertThat(search.decision(), containsString("multi_index:"));
                            List<Integer> distances = sortedDistances(query, all);
                            List<Integer> got = new ArrayList<>();
                            for (int i = 0; i < found.size; i++) {
                                got.add(found.distances[i]);
                            }
                            got.sort(null);
                            assertThat(got, equalTo(distances.subList(0, k)));
                        }
                    }
                    if (clustered) {
                        assertTrue("clustered queries answered by the tables: " + byTables + " of 20", byTables >= 15);
                    }
                }
            }
        }
    }

    /**
     * Clustered codes seen from another shard: the query is not an indexed code, nor near one, but its cluster's
     * codes lie a few bits off (its k nearest at distance 5-8), as where a query drawn from one shard's codes is
     * run on the shard that holds the rest of its cluster. The first buckets fill with the cluster's codes, far
     * more than the buckets beyond hold: the tables answer (from the k-th nearest found so far, which bounds how
     * far they must go), equal to the oracle, where a prediction from the first buckets' load would scan.
     */
    public void testAutoTopKFindsAClusterAroundACodeFromAnotherShard() throws IOException {
        bits = 64;
        int k = 10;
        java.util.Random rnd = new java.util.Random(random().nextLong());
        List<byte[]> centres = new ArrayList<>();
        // 20 codes a cluster: a cluster is as small a share of the segment as a real collection's near-duplicates
        // (a 5M-code shard's clusters of 500 are a ten-thousandth of it); where a cluster is a large share, reading
        // all of it through the tables costs about as much as the scan.
        for (int c = 0; c < 50_000; c++) {
            centres.add(HammingOracle.randomCode(rnd, bits));
        }
        List<byte[]> all = new ArrayList<>();
        for (int i = 0; i < 1_000_000; i++) {
            all.add(HammingOracle.flip(rnd, centres.get(i % centres.size()), 3));
        }
        try (Directory dir = newDirectory()) {
            try (IndexReader reader = oneSegment(dir, all)) {
                FixedBitsCodes fixed = codes(reader);
                double scanCost = CostModel.DEFAULT.scan(fixed.count(), fixed.bytesPerCode());
                int byTables = 0;
                for (int q = 0; q < 20; q++) {
                    byte[] query = HammingOracle.flip(rnd, centres.get(rnd.nextInt(centres.size())), 4);
                    List<Integer> distances = sortedDistances(query, all);
                    MultiIndexSearch search = new MultiIndexSearch(fixed.multiIndex(), fixed, HammingKernel.forCode(HashCode.ofBytes(query)),
                        query, reader.maxDoc(), CostModel.DEFAULT);
                    MultiIndexSearch.Candidates found = search.topK(k, bits, null, scanCost, false);
                    String why = search.decision() + " (k-th distance " + distances.get(k - 1) + ")";
                    if (found != null) {
                        byTables++;
                        assertThat(why, search.decision(), containsString("multi_index:"));
                        assertTrue(why + ": spent " + search.spent() / scanCost + " of a scan", search.spent() <= CostModel.CHOOSE_INDEX_BELOW * scanCost);
                        List<Integer> got = new ArrayList<>();
                        for (int i = 0; i < found.size; i++) {
                            got.add(found.distances[i]);
                        }
                        got.sort(null);
                        assertThat(why, got, equalTo(distances.subList(0, k)));
                    } else {
                        assertThat(why, search.decision(), containsString("scan:"));
                    }
                }
                // 16 to 17 of 20 as a rule (0 to 2 when the prediction from the first buckets' load decided); the rest
                // saw too few of their cluster's codes in their first buckets to look on
                assertTrue("queries answered by the tables: " + byTables + " of 20", byTables >= 12);
            }
        }
    }

    /** The codes of field "hash" in a reader's only segment. */
    private static FixedBitsCodes codes(IndexReader reader) throws IOException {
        return ((FixedBitsValues) reader.leaves().get(0).reader().getBinaryDocValues("hash")).fixedBitsCodes();
    }

    /** The oracle: the distance from {@code query} to each of {@code codes}, nearest first. */
    private static List<Integer> sortedDistances(byte[] query, List<byte[]> codes) {
        List<Integer> distances = new ArrayList<>(codes.size());
        for (byte[] code : codes) {
            distances.add(HammingOracle.distance(query, code));
        }
        distances.sort(null);
        return distances;
    }

    /** One segment holding {@code codes} in field "hash" (64 bits, multi-index tables of the automatic width). */
    private static IndexReader oneSegment(Directory dir, List<byte[]> codes) throws IOException {
        IndexWriterConfig config = new IndexWriterConfig().setMergePolicy(org.apache.lucene.index.NoMergePolicy.INSTANCE)
            .setRAMBufferSizeMB(256).setMaxBufferedDocs(1_000_000);
        FieldSpec spec = new FieldSpec(codes.get(0).length, FieldSpec.AUTO_SUBSTRINGS);
        config.setCodec(TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat(f -> f.equals("hash") ? spec : FieldSpec.UNKNOWN)));
        try (org.apache.lucene.index.IndexWriter writer = new org.apache.lucene.index.IndexWriter(dir, config)) {
            for (byte[] code : codes) {
                Document doc = new Document();
                doc.add(new BinaryDocValuesField("hash", new BytesRef(code)));
                writer.addDocument(doc);
            }
        }
        IndexReader reader = org.apache.lucene.index.DirectoryReader.open(dir);
        assertThat(reader.leaves().size(), equalTo(1));
        return reader;
    }
}
