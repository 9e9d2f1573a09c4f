package org.deephash.ingest;

import org.deephash.DeepHashPlugin;
import org.deephash.compat.TestCompat;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HashCode;
import org.deephash.model.HashModel;
import org.deephash.model.HashOutput;
import org.deephash.model.ImagePreprocessorTests;
import org.deephash.query.HammingQueryBuilder;
import org.deephash.query.Rerank;
import org.deephash.rest.DeepHashStatsAction;
import org.deephash.rest.ReloadModelsAction;
import org.elasticsearch.action.bulk.BulkItemResponse;
import org.elasticsearch.action.bulk.BulkRequestBuilder;
import org.elasticsearch.action.bulk.BulkResponse;
import org.elasticsearch.action.search.SearchResponse;
import org.elasticsearch.action.support.WriteRequest;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.IOUtils;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.search.SearchHit;
import org.elasticsearch.test.ESIntegTestCase;
import org.junit.AfterClass;
import org.junit.BeforeClass;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertAcked;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertHitCount;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertNoFailures;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.not;

/**
 * The {@code deep_hash} processor and the {@code hamming} query by text and image on an in-process
 * cluster of two nodes: every code and embedding a document gets is compared with the bundled model
 * run directly (the oracle), queries by text or image must answer exactly as a query by the code the
 * model gives, and a re-ranked query is checked against a brute-force Hamming + Euclidean oracle.
 * The pictures are real: a sample of the model's test split (demo/emoji-test-sample.ndjson).
 */
@ESIntegTestCase.ClusterScope(scope = ESIntegTestCase.Scope.SUITE, numDataNodes = 2)
public class DeepHashIngestClusterTests extends ESIntegTestCase {
    private static final Path SAMPLE = Path.of("demo/emoji-test-sample.ndjson");
    private static final Path MODEL = Path.of("target/models/default");

    private record Picture(String id, String image, List<String> caption, String subgroup) {
        String text() {
            return String.join(", ", caption);
        }
    }

    private static List<Picture> pictures;
    private static HashModel oracle;

    @BeforeClass
    public static void loadPicturesAndModel() throws IOException {
        pictures = new ArrayList<>();
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String line : Files.readAllLines(SAMPLE, StandardCharsets.UTF_8)) {
            var node = mapper.readTree(line);
            List<String> caption = new ArrayList<>();
            node.get("caption").forEach(c -> caption.add(c.asText()));
            pictures.add(new Picture("p" + node.get("picture").asInt(), node.get("image").asText(), caption, node.get("subgroup").asText()));
        }
        oracle = HashModel.load(MODEL);
    }

    @AfterClass
    public static void closeModel() {
        if (oracle != null) {
            oracle.close();
        }
        oracle = null;
        pictures = null;
    }

    @Override
    protected Collection<Class<? extends Plugin>> nodePlugins() {
        return List.of(DeepHashPlugin.class);
    }

    /** Models are reloaded by request only, so that the reload test sees every change itself. */
    @Override
    protected Settings nodeSettings(int nodeOrdinal, Settings otherSettings) {
        return Settings.builder().put(super.nodeSettings(nodeOrdinal, otherSettings)).put("deep_hash.models.reload_interval", "-1").build();
    }

    private void putPipeline(String id, String processorBody) {
        String json = "{\"processors\": [{\"deep_hash\": " + processorBody + "}]}";
        TestCompat.putPipeline(client(), id, json);
    }

    private void createIndex(String index, int shards) {
        assertAcked(prepareCreate(index).setSettings(Settings.builder().put("index.number_of_shards", shards).put("index.number_of_replicas", 0))
            .setMapping("""
                {"properties": {
                  "hash": {"type": "binary_hash", "bits": 64},
                  "image_hash": {"type": "binary_hash", "bits": 64},
                  "text_hash": {"type": "binary_hash", "bits": 64},
                  "embedding": {"type": "dense_vector", "dims": 256, "similarity": "l2_norm"},
                  "stored_embedding": {"type": "dense_vector", "dims": 256, "index": false},
                  "subgroup": {"type": "keyword"}
                }}"""));
        ensureGreen(index);
    }

    private static final String FULL_PROCESSOR = """
        {"image_field": "image", "text_field": "caption", "target_field": "hash", "image_target_field": "image_hash",
         "text_target_field": "text_hash", "embedding_field": "embedding", "remove_image": true}""";

    /** Indexes {@code docs} through pipeline {@code pipeline}, one bulk request, refreshed. */
    private BulkResponse index(String index, String pipeline, List<Picture> docs) {
        BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        for (Picture p : docs) {
            bulk.add(prepareIndex(index).setId(p.id()).setPipeline(pipeline).setSource(Map.of("image", p.image(), "caption", p.caption(), "subgroup", p.subgroup())));
        }
        return bulk.get();
    }

    private static byte[] png(Picture p) {
        return Base64.getDecoder().decode(p.image());
    }

    public void testPipelineWritesTheModelsCodesAndEmbedding() {
        putPipeline("full", FULL_PROCESSOR);
        createIndex("full", 2);
        List<Picture> docs = randomSubsetOf(40, pictures);
        BulkResponse response = index("full", "full", docs);
        assertFalse(response.buildFailureMessage(), response.hasFailures());
        for (Picture p : docs) {
            Map<String, Object> source = client().prepareGet("full", p.id()).get().getSourceAsMap();
            HashOutput fused = oracle.hashFused(List.of(png(p)), List.of(p.text())).get(0);
            assertEquals(p.id(), fused.codeHex(), source.get("hash"));
            assertEquals(p.id(), oracle.hashImages(List.of(png(p))).get(0).codeHex(), source.get("image_hash"));
            assertEquals(p.id(), oracle.hashTexts(List.of(p.text())).get(0).codeHex(), source.get("text_hash"));
            @SuppressWarnings("unchecked")
            List<Number> embedding = (List<Number>) source.get("embedding");
            assertEquals(fused.embedding().length, embedding.size());
            for (int i = 0; i < embedding.size(); i++) {
                assertEquals(fused.embedding()[i], embedding.get(i).floatValue(), 1e-6f);
            }
            assertFalse("remove_image drops the picture", source.containsKey("image"));
        }
    }

    public void testOneInputGivesThatModalitysCode() {
        putPipeline("either", "{\"image_field\": \"image\", \"text_field\": \"caption\"}");
        createIndex("either", 1);
        Picture p = randomFrom(pictures);
        client().prepareIndex("either").setId("image-only").setPipeline("either").setSource(Map.of("image", p.image())).get();
        client().prepareIndex("either").setId("text-only").setPipeline("either").setSource(Map.of("caption", p.caption())).get();
        refresh("either");
        assertEquals(oracle.hashImages(List.of(png(p))).get(0).codeHex(), client().prepareGet("either", "image-only").get().getSourceAsMap().get("hash"));
        assertEquals(oracle.hashTexts(List.of(p.text())).get(0).codeHex(), client().prepareGet("either", "text-only").get().getSourceAsMap().get("hash"));
    }

    public void testBadDocumentsFailAloneWithA400NamingTheField() {
        putPipeline("strict", "{\"image_field\": \"image\", \"text_field\": \"caption\"}");
        createIndex("strict", 1);
        Picture good = randomFrom(pictures);
        byte[] goodPng = png(good);
        String truncated = Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(goodPng, goodPng.length / 2));
        String notAnImage = Base64.getEncoder().encodeToString("hello, this is text".getBytes(StandardCharsets.UTF_8));
        Map<String, Map<String, Object>> bad = new HashMap<>();
        bad.put("bad-base64", Map.of("image", "iVBORw0KGgo!!!not base64"));
        bad.put("corrupt", Map.of("image", truncated));
        bad.put("not-an-image", Map.of("image", notAnImage));
        bad.put("bomb", Map.of("image", Base64.getEncoder().encodeToString(ImagePreprocessorTests.pngHeaderOnly(20000, 20000))));
        bad.put("wrong-type", Map.of("image", 42));
        bad.put("wrong-caption", Map.of("caption", Map.of("a", "b")));
        bad.put("nothing", Map.of("other", "x"));
        bad.put("too-long", Map.of("caption", "word ".repeat(3000)));
        Map<String, String> expected = Map.of(
            "bad-base64", "field [image] is not valid base64",
            "corrupt", "field [image]: the image looks like png but could not be decoded",
            "not-an-image", "field [image]: the image is not a PNG, JPEG, GIF, BMP or WebP image",
            "bomb", "field [image]: the png image is 20000x20000 pixels: each side may be at most 16384",
            "wrong-type", "field [image] is a number [42]: expected a string of base64 image bytes",
            "wrong-caption", "field [caption] is an object",
            "nothing", "the document has no image in [image] and no text in [caption]",
            "too-long", "field [caption]: the text is [15000] characters, over the limit of [10000]"
        );
        BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        bulk.add(prepareIndex("strict").setId("good").setPipeline("strict").setSource(Map.of("image", good.image(), "caption", good.caption())));
        bad.forEach((id, source) -> bulk.add(prepareIndex("strict").setId(id).setPipeline("strict").setSource(source)));
        BulkResponse response = bulk.get();
        for (BulkItemResponse item : response.getItems()) {
            if (item.getId().equals("good")) {
                assertFalse(item.getFailureMessage(), item.isFailed());
                continue;
            }
            assertTrue(item.getId() + " must fail", item.isFailed());
            assertEquals(item.getId(), RestStatus.BAD_REQUEST, item.getFailure().getStatus());
            assertThat(item.getId(), item.getFailureMessage(), containsString(expected.get(item.getId())));
        }
        assertHitCount(client().prepareSearch("strict").setSize(0), 1);

        // on_failure can hash what is left (the caption) when the picture is bad; ignore_missing indexes a
        // document without inputs unhashed.
        String json = """
            {"processors": [{"deep_hash": {"image_field": "image", "text_field": "caption", "ignore_missing": true,
              "on_failure": [{"deep_hash": {"text_field": "caption", "target_field": "hash"}}]}}]}""";
        TestCompat.putPipeline(client(), "lenient", json);
        client().prepareIndex("strict").setId("fallback").setPipeline("lenient").setSource(Map.of("image", "%%%", "caption", good.caption())).get();
        client().prepareIndex("strict").setId("unhashed").setPipeline("lenient").setSource(Map.of("other", "x")).get();
        refresh("strict");
        Map<String, Object> fallback = client().prepareGet("strict", "fallback").get().getSourceAsMap();
        assertEquals(oracle.hashTexts(List.of(good.text())).get(0).codeHex(), fallback.get("hash"));
        assertFalse(client().prepareGet("strict", "unhashed").get().getSourceAsMap().containsKey("hash"));
    }

    /**
     * model_info_field lands in _source with the model's name and version and a time that the
     * README's suggested mapping indexes as a date; a document left unhashed gets none.
     */
    public void testModelInfoRecordsWhichModelHashedWhat() {
        putPipeline("with-info", """
            {"image_field": "image", "text_field": "caption", "model_info_field": "model_info", "ignore_missing": true}""");
        assertAcked(prepareCreate("info").setSettings(Settings.builder().put("index.number_of_shards", 2).put("index.number_of_replicas", 0))
            .setMapping("""
                {"properties": {
                  "hash": {"type": "binary_hash", "bits": 64},
                  "model_info": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}, "hashed_at": {"type": "date"}}}
                }}"""));
        ensureGreen("info");
        long before = System.currentTimeMillis();
        List<Picture> docs = randomSubsetOf(between(3, 12), pictures);
        BulkResponse response = index("info", "with-info", docs);
        assertFalse(response.buildFailureMessage(), response.hasFailures());
        client().prepareIndex("info").setId("unhashed").setPipeline("with-info").setSource(Map.of("other", "x")).setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE).get();
        long after = System.currentTimeMillis();
        for (Picture p : docs) {
            Map<String, Object> source = client().prepareGet("info", p.id()).get().getSourceAsMap();
            @SuppressWarnings("unchecked")
            Map<String, Object> info = (Map<String, Object>) source.get("model_info");
            assertEquals(p.id(), "default", info.get("name"));
            assertEquals(p.id(), oracle.config().version(), info.get("version"));
            long hashedAt = java.time.Instant.parse((String) info.get("hashed_at")).toEpochMilli();
            assertTrue(p.id() + " hashed at " + info.get("hashed_at"), hashedAt >= before && hashedAt <= after);
        }
        assertFalse(client().prepareGet("info", "unhashed").get().getSourceAsMap().containsKey("model_info"));
        // What the health dashboard asks: documents by model version, and hashed in a time range.
        assertHitCount(client().prepareSearch("info").setSize(0).setQuery(
            org.elasticsearch.index.query.QueryBuilders.termQuery("model_info.version", oracle.config().version())), docs.size());
        assertHitCount(client().prepareSearch("info").setSize(0).setQuery(
            org.elasticsearch.index.query.QueryBuilders.rangeQuery("model_info.hashed_at").gte(before).lte(after).format("epoch_millis")), docs.size());

        Exception e = expectThrows(Exception.class, () -> putPipeline("clash", "{\"text_field\": \"caption\", \"model_info_field\": \"hash\"}"));
        assertThat(e.getMessage(), containsString("[model_info_field] [hash] is the same field as [target_field] [hash]"));
        assertEquals(RestStatus.BAD_REQUEST, org.elasticsearch.ExceptionsHelper.status(e));
    }

    public void testPipelineWithAnUnknownModelOrFieldIsRefused() {
        Exception e = expectThrows(Exception.class, () -> putPipeline("unknown", "{\"image_field\": \"image\", \"model\": \"nope\"}"));
        assertThat(e.getMessage(), containsString("unknown model [nope]"));
        e = expectThrows(Exception.class, () -> putPipeline("no-input", "{\"target_field\": \"h\"}"));
        assertThat(e.getMessage(), containsString("[image_field] or [text_field] is required"));
        e = expectThrows(Exception.class, () -> putPipeline("bad-name", "{\"text_field\": \"t\", \"model\": \"../etc\"}"));
        assertThat(e.getMessage(), containsString("invalid model name [../etc]"));
    }

    public void testBulkOfAThousandDocuments() {
        putPipeline("full", FULL_PROCESSOR);
        createIndex("thousand", 2);
        BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        for (int i = 0; i < 1000; i++) {
            Picture p = pictures.get(i % pictures.size());
            bulk.add(prepareIndex("thousand").setId("d" + i).setPipeline("full").setSource(Map.of("image", p.image(), "caption", p.caption())));
        }
        BulkResponse response = bulk.get();
        assertFalse(response.buildFailureMessage(), response.hasFailures());
        assertHitCount(client().prepareSearch("thousand").setSize(0).setTrackTotalHits(true), 1000);
        assertHitCount(
            client().prepareSearch("thousand").setSize(0).setTrackTotalHits(true).setQuery(org.elasticsearch.index.query.QueryBuilders.existsQuery("hash")),
            1000
        );

        DeepHashStatsAction.Response stats = client().execute(DeepHashStatsAction.INSTANCE, new DeepHashStatsAction.Request()).actionGet();
        long hashed = stats.getNodes().stream().mapToLong(n -> ((Number) n.stats().get("documents_hashed")).longValue()).sum();
        assertThat(hashed, greaterThanOrEqualTo(1000L));
    }

    /** {@code _reload} runs on every node and its answers cross the wire: a model directory added to each node, then removed. */
    public void testReloadReachesEveryNode() throws IOException {
        String[] nodes = internalCluster().getNodeNames();
        List<Path> added = new ArrayList<>();
        for (String node : nodes) {
            Path dir = internalCluster().getInstance(Environment.class, node).configDir().resolve("deep-hash/models/reload-test");
            Files.createDirectories(dir);
            added.add(dir);
        }
        ReloadModelsAction.Response response = client().execute(ReloadModelsAction.INSTANCE, new ReloadModelsAction.Request()).actionGet();
        assertFalse(response.failures().toString(), response.hasFailures());
        assertEquals(nodes.length, response.getNodes().size());
        for (ReloadModelsAction.NodeResponse node : response.getNodes()) {
            assertEquals(node.changes().toString(), 1, node.changes().size());
            Map<String, Object> change = node.changes().get(0);
            assertEquals("reload-test", change.get("name"));
            assertEquals("added", change.get("change"));
            assertEquals("user", change.get("source"));
            assertThat((String) change.get("path"), containsString("reload-test"));
        }
        IOUtils.rm(added.toArray(new Path[0]));
        response = client().execute(ReloadModelsAction.INSTANCE, new ReloadModelsAction.Request()).actionGet();
        for (ReloadModelsAction.NodeResponse node : response.getNodes()) {
            assertEquals(List.of(Map.of("name", "reload-test", "change", "removed", "source", "user")), node.changes());
        }
        response = client().execute(ReloadModelsAction.INSTANCE, new ReloadModelsAction.Request()).actionGet();
        for (ReloadModelsAction.NodeResponse node : response.getNodes()) {
            assertEquals(List.of(), node.changes());
        }
    }

    public void testQueriesByTextAndImageAnswerAsTheirCodes() {
        putPipeline("full", FULL_PROCESSOR);
        createIndex("search", 3);
        List<Picture> docs = randomSubsetOf(120, pictures);
        assertFalse(index("search", "full", docs).hasFailures());
        for (int q = 0; q < 6; q++) {
            Picture query = randomFrom(pictures);
            // text against image codes and image against text codes: the cross-modal searches
            assertSameHits(
                new HammingQueryBuilder("image_hash", query.text(), null, null, null),
                new HammingQueryBuilder("image_hash", HashCode.ofBytes(oracle.hashTexts(List.of(query.text())).get(0).code()), null)
            );
            assertSameHits(
                new HammingQueryBuilder("text_hash", null, query.image(), "default", null),
                new HammingQueryBuilder("text_hash", HashCode.ofBytes(oracle.hashImages(List.of(png(query))).get(0).code()), null)
            );
            assertSameHits(
                new HammingQueryBuilder("hash", query.text(), query.image(), null, 20),
                new HammingQueryBuilder("hash", HashCode.ofBytes(oracle.hashFused(List.of(png(query)), List.of(query.text())).get(0).code()), 20)
            );
        }
    }

    public void testATextIsHashedOncePerRequestNotPerShard() {
        putPipeline("full", FULL_PROCESSOR);
        createIndex("once-a", 3);
        createIndex("once-b", 2);
        assertFalse(index("once-a", "full", randomSubsetOf(20, pictures)).hasFailures());
        assertFalse(index("once-b", "full", randomSubsetOf(20, pictures)).hasFailures());
        long before = queriesHashed();
        assertHitCount(
            client().prepareSearch("once-a", "once-b").setQuery(new HammingQueryBuilder("image_hash", "a cat", null, null, null)).setSize(0),
            40
        );
        assertEquals("one search over 5 shards of 2 indices on 2 nodes hashes its text once", before + 1, queriesHashed());
    }

    /** A text query on a field of another width names the model and its width, not a [code] the user never sent. */
    public void testATextQueryOnAFieldOfAnotherWidthNamesTheModel() {
        assertAcked(
            prepareCreate("wide").setSettings(Settings.builder().put("index.number_of_shards", between(1, 3)).put("index.number_of_replicas", 0))
                .setMapping("{\"properties\": {\"hash\": {\"type\": \"binary_hash\", \"bits\": 128}}}")
        );
        prepareIndex("wide").setId("1").setSource("hash", "0".repeat(32)).setRefreshPolicy("true").get();
        Exception e = expectThrows(
            Exception.class,
            () -> client().prepareSearch("wide").setQuery(new HammingQueryBuilder("hash", "a cat", null, null, null)).get().decRef()
        );
        String detail = org.elasticsearch.ExceptionsHelper.unwrapCause(e).toString() + " " + org.elasticsearch.ExceptionsHelper.stackTrace(e);
        assertThat(
            detail,
            containsString("field [hash] holds codes of [128] bits but model [default] hashes the query's [text]/[image] to codes of [64] bits")
        );
        assertThat(detail, not(containsString("[code] has")));
    }

    private long queriesHashed() {
        DeepHashStatsAction.Response stats = client().execute(DeepHashStatsAction.INSTANCE, new DeepHashStatsAction.Request()).actionGet();
        return stats.getNodes().stream().mapToLong(n -> ((Number) n.stats().get("queries_hashed")).longValue()).sum();
    }

    private void assertSameHits(HammingQueryBuilder byInput, HammingQueryBuilder byCode) {
        SearchResponse expected = client().prepareSearch("search").setQuery(byCode).setSize(200).get();
        SearchResponse actual = client().prepareSearch("search").setQuery(byInput).setSize(200).get();
        try {
            assertNoFailures(actual);
            assertEquals(expected.getHits().getHits().length, actual.getHits().getHits().length);
            for (int i = 0; i < expected.getHits().getHits().length; i++) {
                assertEquals(expected.getHits().getAt(i).getId(), actual.getHits().getAt(i).getId());
                assertEquals(expected.getHits().getAt(i).getScore(), actual.getHits().getAt(i).getScore(), 0f);
            }
        } finally {
            expected.decRef();
            actual.decRef();
        }
    }

    public void testRerankAgainstABruteForceOracle() {
        putPipeline("both-embeddings", """
            {"image_field": "image", "text_field": "caption", "target_field": "hash", "embedding_field": "embedding"}""");
        createIndex("rerank", 1);
        List<Picture> docs = randomSubsetOf(150, pictures);
        BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        Map<String, HashOutput> outputs = new HashMap<>();
        for (Picture p : docs) {
            HashOutput out = oracle.hashFused(List.of(png(p)), List.of(p.text())).get(0);
            outputs.put(p.id(), out);
            Map<String, Object> source = new HashMap<>();
            source.put("image", p.image());
            source.put("caption", p.caption());
            source.put("stored_embedding", out.embedding());
            bulk.add(prepareIndex("rerank").setId(p.id()).setPipeline("both-embeddings").setSource(source));
        }
        assertFalse(bulk.get().hasFailures());
        for (int q = 0; q < 5; q++) {
            Picture query = randomFrom(pictures);
            HashOutput text = oracle.hashTexts(List.of(query.text())).get(0);
            int window = between(5, 60);
            // Both: the indexed one is quantized (int8_hnsw by default), and re-ranking must still use its full floats.
            for (String vectorField : List.of("embedding", "stored_embedding")) {
                HammingQueryBuilder builder = new HammingQueryBuilder("hash", query.text(), null, null, null);
                builder.rerank(new Rerank(vectorField, window, null));
                SearchResponse response = client().prepareSearch("rerank").setQuery(builder).setSize(200).get();
                try {
                    assertNoFailures(response);
                    checkRerank(response.getHits().getHits(), outputs, text, window);
                } finally {
                    response.decRef();
                }
            }
        }
    }

    /** The hits must be a window's worth of the nearest codes (ties at the edge either way), ordered by 1 / (1 + l2^2). */
    private static void checkRerank(SearchHit[] hits, Map<String, HashOutput> docs, HashOutput query, int window) {
        Map<String, Integer> distance = new HashMap<>();
        docs.forEach((id, out) -> distance.put(id, HammingOracle.distance(out.code(), query.code())));
        List<Integer> sorted = distance.values().stream().sorted().toList();
        int edge = sorted.get(Math.min(window, sorted.size()) - 1);
        assertEquals(Math.min(window, docs.size()), hits.length);
        Set<String> returned = new HashSet<>();
        for (SearchHit hit : hits) {
            returned.add(hit.getId());
            assertThat("candidate " + hit.getId() + " is beyond the window's edge", distance.get(hit.getId()) <= edge, equalTo(true));
            float expected = (float) (1.0 / (1.0 + squaredL2(docs.get(hit.getId()).embedding(), query.embedding())));
            assertEquals(hit.getId(), expected, hit.getScore(), 1e-5f);
        }
        distance.forEach((id, d) -> {
            if (d < edge) {
                assertTrue("a code nearer than the window's edge is missing: " + id, returned.contains(id));
            }
        });
        List<SearchHit> ordered = new ArrayList<>(List.of(hits));
        ordered.sort(Comparator.comparingDouble(h -> -h.getScore()));
        assertEquals(ordered, List.of(hits));
    }

    private static double squaredL2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }

}
