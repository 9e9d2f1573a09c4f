package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model inside a real node: ONNX Runtime loads under the plugin's entitlement policy, the bundled
 * models are listed, the {@code deep_hash} processor and {@code _hash} reproduce the codes and
 * embeddings PyTorch computed for the golden inputs of each ({@code default}: model/export/golden.json;
 * {@code accurate} and {@code fast}: golden.json in model/export-accurate/ and model/export-fast/), a bulk
 * request of 1000 real pictures is hashed, text and image queries (cross-modal, fused, re-ranked) answer as queries by
 * the code they hash to, and bad input is a 400 per document with the node still up and the errors
 * counted by kind in {@code _deep_hash/stats}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HashingIT {
    static final String INDEX = "deep-hash-it-hashing";
    static final String PIPELINE = "deep-hash-it-full";
    static final Path REPO = Path.of(System.getProperty("tests.repo.root", ".."));

    private Es es;
    private JsonNode golden;
    private final List<JsonNode> pictures = new ArrayList<>();

    @BeforeAll
    void setUp() throws IOException {
        es = new Es();
        golden = JSON.readTree(REPO.resolve("model/export/golden.json").toFile());
        for (String line : Files.readAllLines(REPO.resolve("demo/emoji-test-sample.ndjson"), StandardCharsets.UTF_8)) {
            pictures.add(JSON.readTree(line));
        }
        es.raw("DELETE", "/" + INDEX + "?ignore_unavailable=true", (String) null);
        String mapping = """
            {"settings": {"number_of_shards": 2, "number_of_replicas": 0},
             "mappings": {"properties": {
               "hash": {"type": "binary_hash", "bits": 64},
               "image_hash": {"type": "binary_hash", "bits": 64},
               "text_hash": {"type": "binary_hash", "bits": 64},
               "embedding": {"type": "dense_vector", "dims": 256, "similarity": "l2_norm"},
               "subgroup": {"type": "keyword"}}}}""";
        Raw r = es.raw("PUT", "/" + INDEX, mapping);
        assertEquals(200, r.status(), r.describe());
        r = es.raw("PUT", "/_ingest/pipeline/" + PIPELINE, """
            {"processors": [{"deep_hash": {"image_field": "image", "text_field": "caption", "target_field": "hash",
              "image_target_field": "image_hash", "text_target_field": "text_hash", "embedding_field": "embedding",
              "remove_image": true}}]}""");
        assertEquals(200, r.status(), r.describe());
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            es.raw("DELETE", "/" + INDEX + "?ignore_unavailable=true", (String) null);
            es.raw("DELETE", "/_ingest/pipeline/deep-hash-it-*", (String) null);
            es.close();
        }
    }

    @Test
    @Order(1)
    void theBundledModelIsListed() throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/models", (String) null);
        assertEquals(200, r.status(), r.describe());
        JsonNode model = null;
        for (JsonNode m : r.json().get("models")) {
            if (m.get("name").asText().equals("default")) {
                model = m;
            }
        }
        assertTrue(model != null, r.describe());
        assertEquals("bundled", model.get("source").asText());
        assertEquals(64, model.get("bits").asInt());
        assertTrue(model.get("usable").asBoolean(), r.describe());
        assertEquals(List.of("image", "text", "fused"), JSON.convertValue(model.get("entry_points"), List.class));
        assertEquals(404, es.raw("GET", "/_deep_hash/models/nope", (String) null).status());
    }

    /** The user models run.sh installs under the node's config directory: a good copy works, a broken one fails alone. */
    @Test
    @Order(7)
    void userModelsBesideTheBundledOne() throws IOException {
        Raw list = es.raw("GET", "/_deep_hash/models", (String) null);
        Map<String, JsonNode> models = new HashMap<>();
        list.json().get("models").forEach(m -> models.put(m.get("name").asText(), m));
        org.junit.jupiter.api.Assumptions.assumeTrue(models.containsKey("copy"), "no user models installed (integ-tests/run.sh installs them)");
        assertEquals("user", models.get("copy").get("source").asText(), list.describe());
        assertTrue(models.get("copy").get("usable").asBoolean(), list.describe());
        assertEquals(false, models.get("broken").get("usable").asBoolean(), list.describe());
        assertTrue(models.get("broken").get("error").asText().contains("SHA-256"), list.describe());
        Raw copy = es.raw("POST", "/_deep_hash/models/copy/_hash", "{\"text\": \"hot beverage\"}");
        Raw bundled = es.raw("POST", "/_deep_hash/models/default/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(200, copy.status(), copy.describe());
        assertEquals(bundled.json().get("code"), copy.json().get("code"));
        Raw broken = es.raw("POST", "/_deep_hash/models/broken/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(400, broken.status(), broken.describe());
        assertTrue(broken.text().contains("model [broken]") && broken.text().contains("cannot be loaded"), broken.describe());
        Raw pipeline = es.raw("PUT", "/_ingest/pipeline/deep-hash-it-broken", "{\"processors\": [{\"deep_hash\": {\"text_field\": \"t\", \"model\": \"broken\"}}]}");
        assertEquals(400, pipeline.status(), pipeline.describe());
        assertEquals(200, es.raw("GET", "/_cluster/health", (String) null).status());
    }

    /** Every golden input, through the processor and through _hash, gives PyTorch's code (no bit flipped) and embedding within 1e-5. */
    @Test
    @Order(2)
    void goldenInputsGiveTheCodesPyTorchComputed() throws IOException {
        reproduceGolden("default", golden, PIPELINE);
    }

    /**
     * The other bundled models the same way: {@code accurate} (its own backbones, no shared trunk) and
     * {@code fast} (its own int8 text encoder, each caption embedded alone).
     */
    @ParameterizedTest
    @ValueSource(strings = {"accurate", "fast"})
    @Order(2)
    void theOtherBundledModelsGiveTheirGoldenCodes(String name) throws IOException {
        Raw r = es.raw("PUT", "/_ingest/pipeline/deep-hash-it-" + name, """
            {"processors": [{"deep_hash": {"model": "%s", "image_field": "image", "text_field": "caption",
              "target_field": "hash", "embedding_field": "embedding"}}]}""".formatted(name));
        assertEquals(200, r.status(), r.describe());
        Raw listed = es.raw("GET", "/_deep_hash/models/" + name, (String) null);
        assertEquals(200, listed.status(), listed.describe());
        JsonNode model = listed.json().get("models").get(0);
        assertEquals("bundled", model.get("source").asText(), listed.describe());
        assertTrue(model.get("usable").asBoolean(), listed.describe());
        assertEquals(64, model.get("bits").asInt(), listed.describe());
        reproduceGolden(name, JSON.readTree(REPO.resolve("model/export-" + name + "/golden.json").toFile()), "deep-hash-it-" + name);
    }

    private void reproduceGolden(String model, JsonNode golden, String pipeline) throws IOException {
        Checks checks = new Checks("golden of " + model);
        int n = 0;
        for (JsonNode c : golden) {
            String entry = c.get("entry").asText();
            ObjectNode doc = NODES.objectNode();
            ObjectNode hashBody = NODES.objectNode();
            if (c.has("image_png_base64")) {
                doc.put("image", c.get("image_png_base64").asText());
                hashBody.put("image", c.get("image_png_base64").asText());
            }
            if (c.has("text")) {
                hashBody.put("text", c.get("text").asText());
                if (c.get("text").asText().isBlank() == false) {
                    doc.put("caption", c.get("text").asText());
                }
            }
            String name = c.get("name").asText();
            Raw hashed = es.raw("POST", "/_deep_hash/models/" + model + "/_hash", hashBody);
            if (c.has("text") && c.get("text").asText().isBlank()) {
                // The runtime hashes a blank text (GoldenVectorsTests checks it); the node refuses one, as it
                // refuses every blank caption, with a 400 that says so.
                checks.check(hashed.status() == 400 && hashed.text().contains("[text] is empty"), hashed::describe);
                continue;
            }
            checks.check(hashed.status() == 200, hashed::describe);
            if (hashed.status() == 200) {
                checks.check(entry.equals(hashed.json().get("entry_point").asText()), () -> name + ": entry point " + hashed.text());
                checks.check(c.get("code").asText().equals(hashed.json().get("code").asText()), () -> name + ": _hash code " + hashed.json().get("code") + " expected " + c.get("code"));
                checkEmbedding(checks, name, c.get("embedding"), hashed.json().get("embedding"));
            }
            if (doc.isEmpty()) {
                continue;
            }
            Raw simulated = es.raw("POST", "/_ingest/pipeline/" + pipeline + "/_simulate", "{\"docs\": [{\"_source\": " + JSON.writeValueAsString(doc) + "}]}");
            checks.check(simulated.status() == 200, simulated::describe);
            JsonNode source = simulated.json().get("docs").get(0).get("doc").get("_source");
            checks.check(source != null && c.get("code").asText().equals(source.path("hash").asText()), () -> name + ": pipeline " + simulated.text());
            if (source != null) {
                checkEmbedding(checks, name, c.get("embedding"), source.get("embedding"));
            }
            n++;
        }
        checks.assertNone();
        assertTrue(n >= 15, "golden documents run through the pipeline: " + n);
        System.out.printf(Locale.ROOT, "[HashingIT] %d golden cases of model [%s] reproduced by the node (%d checks)%n", golden.size(), model, checks.total());
    }

    private static void checkEmbedding(Checks checks, String name, JsonNode expected, JsonNode actual) {
        checks.check(actual != null && actual.size() == expected.size(), () -> name + ": embedding size");
        if (actual == null) {
            return;
        }
        double worst = 0;
        for (int i = 0; i < expected.size(); i++) {
            worst = Math.max(worst, Math.abs(expected.get(i).asDouble() - actual.get(i).asDouble()));
        }
        double w = worst;
        checks.check(worst <= 1e-5, () -> name + ": embedding differs by " + w);
    }

    @Test
    @Order(3)
    void aBulkOfAThousandPicturesIsHashed() throws IOException {
        StringBuilder bulk = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            JsonNode p = pictures.get(i % pictures.size());
            bulk.append("{\"index\": {\"_id\": \"").append(i).append("\"}}\n");
            ObjectNode doc = NODES.objectNode();
            doc.put("image", p.get("image").asText());
            doc.set("caption", p.get("caption"));
            doc.put("subgroup", p.get("subgroup").asText());
            doc.put("picture", p.get("picture").asInt());
            bulk.append(JSON.writeValueAsString(doc)).append('\n');
        }
        Raw r = es.ndjson("/" + INDEX + "/_bulk?pipeline=" + PIPELINE + "&refresh=true", bulk.toString());
        assertEquals(200, r.status(), r.describe());
        assertEquals(false, r.json().get("errors").asBoolean(), ItSupport.abbreviate(r.text(), 2000));
        Raw count = es.raw("GET", "/" + INDEX + "/_count?q=_exists_:hash", (String) null);
        assertEquals(1000, count.json().get("count").asInt(), count.describe());
        Raw one = es.raw("GET", "/" + INDEX + "/_doc/0", (String) null);
        assertTrue(one.json().get("_source").has("image") == false, "remove_image");
        System.out.printf(Locale.ROOT, "[HashingIT] bulk of 1000 pictures through the pipeline: took %d ms%n", r.json().get("took").asLong());
    }

    /**
     * The bulk above was hashed in batches (the node's default): its documents' codes and embeddings are
     * the ones {@code _hash} gives each picture and caption alone, and the stats show batches of more
     * than one document.
     */
    @Test
    @Order(4)
    void batchedDocumentsGetTheCodesTheyGetAlone() throws IOException {
        Checks checks = new Checks("batched = alone");
        for (int i = 0; i < 1000; i += 41) {
            JsonNode p = pictures.get(i % pictures.size());
            String text = String.join(", ", JSON.convertValue(p.get("caption"), List.class));
            JsonNode alone = es.raw("POST", "/_deep_hash/models/default/_hash",
                "{\"text\": " + JSON.writeValueAsString(text) + ", \"image\": \"" + p.get("image").asText() + "\"}").json();
            JsonNode source = es.raw("GET", "/" + INDEX + "/_doc/" + i, (String) null).json().get("_source");
            int doc = i;
            checks.check(alone.get("code").asText().equals(source.get("hash").asText()), () -> "fused code of document " + doc);
            checks.check(alone.get("codes").get("image").asText().equals(source.get("image_hash").asText()), () -> "image code of document " + doc);
            checks.check(alone.get("codes").get("text").asText().equals(source.get("text_hash").asText()), () -> "text code of document " + doc);
            JsonNode a = alone.get("embedding");
            JsonNode b = source.get("embedding");
            for (int k = 0; k < a.size(); k++) {
                int dim = k;
                checks.check(Math.abs(a.get(k).asDouble() - b.get(k).asDouble()) <= 1e-5, () -> "embedding of document " + doc + " at " + dim);
            }
        }
        checks.assertNone();
        JsonNode batching = stats().get("batching");
        assertTrue(batching.get("max_size").asInt() > 1, batching.toString());
        assertTrue(batching.get("largest_size").asInt() > 1, "a bulk of 1000 documents was hashed in batches: " + batching);
        assertTrue(batching.get("batches").asLong() < batching.get("documents").asLong(), batching.toString());
        assertEquals(0, batching.get("queued").asInt(), batching.toString());
        assertTrue(batching.get("wait").has("p99_time_in_millis"), batching.toString());
    }

    /** Queries by text, by image and by both answer exactly as queries by the codes _hash gives for them. */
    @Test
    @Order(5)
    void textAndImageQueriesAnswerAsTheirCodes() throws IOException {
        Checks checks = new Checks("query by input");
        for (int q = 0; q < 5; q++) {
            JsonNode p = pictures.get(q * 37 % pictures.size());
            String text = String.join(", ", JSON.convertValue(p.get("caption"), List.class));
            String image = p.get("image").asText();
            JsonNode hashed = es.raw("POST", "/_deep_hash/models/default/_hash", "{\"text\": " + JSON.writeValueAsString(text) + ", \"image\": \"" + image + "\"}").json();
            String textCode = hashed.get("codes").get("text").asText();
            String imageCode = hashed.get("codes").get("image").asText();
            compare(checks, "{\"field\": \"image_hash\", \"text\": " + JSON.writeValueAsString(text) + "}", "{\"field\": \"image_hash\", \"code\": \"" + textCode + "\"}");
            compare(checks, "{\"field\": \"text_hash\", \"image\": \"" + image + "\", \"model\": \"default\"}", "{\"field\": \"text_hash\", \"code\": \"" + imageCode + "\"}");
            compare(checks, "{\"field\": \"hash\", \"text\": " + JSON.writeValueAsString(text) + ", \"image\": \"" + image + "\", \"max_distance\": 16}",
                "{\"field\": \"hash\", \"code\": \"" + hashed.get("code").asText() + "\", \"max_distance\": 16}");
            // Re-ranked: the same candidates as the code query's window, ordered by the vector score, which is the
            // full-precision 1 / (1 + d^2) although the indexed vectors are quantized (int8_hnsw by default).
            Raw reranked = es.raw("POST", "/" + INDEX + "/_search", "{\"size\": 100, \"_source\": [\"embedding\"], \"query\": {\"hamming\": "
                + "{\"field\": \"hash\", \"text\": " + JSON.writeValueAsString(text) + ", \"rerank\": {\"field\": \"embedding\", \"window\": 30}}}}");
            checks.check(reranked.status() == 200, reranked::describe);
            JsonNode hits = reranked.json().path("hits").path("hits");
            checks.check(hits.size() == 60, () -> "re-rank window 30 on 2 shards gives 60 hits, not " + hits.size());
            JsonNode queryEmbedding = es.raw("POST", "/_deep_hash/models/default/_hash", "{\"text\": " + JSON.writeValueAsString(text) + "}")
                .json().get("embedding");
            for (int i = 0; i < hits.size(); i++) {
                int at = i;
                if (i > 0) {
                    checks.check(hits.get(i - 1).get("_score").asDouble() >= hits.get(i).get("_score").asDouble(), () -> "re-ranked order at " + at);
                }
                JsonNode embedding = hits.get(i).path("_source").path("embedding");
                double d2 = 0;
                for (int j = 0; j < queryEmbedding.size(); j++) {
                    double diff = queryEmbedding.get(j).asDouble() - embedding.get(j).asDouble();
                    d2 += diff * diff;
                }
                double expected = 1 / (1 + d2);
                double score = hits.get(i).get("_score").asDouble();
                checks.check(Math.abs(score - expected) <= 1e-5 * expected,
                    () -> "re-ranked score at " + at + " is " + score + ", the full-precision 1 / (1 + d^2) is " + expected);
            }
        }
        checks.assertNone();
    }

    private void compare(Checks checks, String byInput, String byCode) throws IOException {
        Raw a = es.raw("POST", "/" + INDEX + "/_search", "{\"size\": 50, \"_source\": false, \"query\": {\"hamming\": " + byInput + "}}");
        Raw b = es.raw("POST", "/" + INDEX + "/_search", "{\"size\": 50, \"_source\": false, \"query\": {\"hamming\": " + byCode + "}}");
        checks.check(a.status() == 200 && b.status() == 200, () -> a.describe() + "\n" + b.describe());
        if (a.status() != 200 || b.status() != 200) {
            return;
        }
        checks.check(a.json().get("hits").equals(b.json().get("hits")), () -> "query by input " + ItSupport.abbreviate(byInput, 200) + " differs from its code's");
    }

    /** Each bad document is a 400 naming the field; the good one in the same bulk is indexed; the node stays up. */
    @Test
    @Order(6)
    void badInputIsA400AndCounted() throws IOException {
        JsonNode before = stats();
        String good = pictures.get(0).get("image").asText();
        byte[] png = Base64.getDecoder().decode(good);
        Map<String, String> bad = new HashMap<>();
        bad.put("bad-base64", "{\"image\": \"iVBORw0KGgo!!!\"}");
        bad.put("corrupt", "{\"image\": \"" + Base64.getEncoder().encodeToString(Arrays.copyOf(png, png.length / 2)) + "\"}");
        bad.put("bomb", "{\"image\": \"" + Base64.getEncoder().encodeToString(pngHeader(60000, 60000)) + "\"}");
        bad.put("not-image", "{\"image\": \"" + Base64.getEncoder().encodeToString("plain text".getBytes(StandardCharsets.UTF_8)) + "\"}");
        bad.put("long-text", "{\"caption\": \"" + "word ".repeat(2500) + "\"}");
        bad.put("nothing", "{\"other\": 1}");
        StringBuilder bulk = new StringBuilder("{\"index\": {\"_id\": \"good\"}}\n{\"image\": \"" + good + "\"}\n");
        bad.forEach((id, doc) -> bulk.append("{\"index\": {\"_id\": \"").append(id).append("\"}}\n").append(doc).append('\n'));
        Raw r = es.ndjson("/" + INDEX + "-bad/_bulk?pipeline=" + PIPELINE + "&refresh=true", bulk.toString());
        assertEquals(200, r.status(), r.describe());
        for (JsonNode item : r.json().get("items")) {
            JsonNode index = item.get("index");
            String id = index.get("_id").asText();
            if (id.equals("good")) {
                assertEquals(201, index.get("status").asInt(), index.toString());
            } else {
                assertEquals(400, index.get("status").asInt(), id + ": " + index);
                assertTrue(index.get("error").toString().contains("field [") || id.equals("nothing"), id + ": " + index);
            }
        }
        Raw pipeline = es.raw("PUT", "/_ingest/pipeline/deep-hash-it-unknown", "{\"processors\": [{\"deep_hash\": {\"text_field\": \"t\", \"model\": \"nope\"}}]}");
        assertEquals(400, pipeline.status(), pipeline.describe());
        assertTrue(pipeline.text().contains("unknown model [nope]"), pipeline.describe());
        Raw query = es.raw("POST", "/" + INDEX + "/_search", "{\"query\": {\"hamming\": {\"field\": \"hash\", \"image\": \"%%%\"}}}");
        assertEquals(400, query.status(), query.describe());
        assertTrue(query.text().contains("not valid base64"), query.describe());
        query = es.raw("POST", "/" + INDEX + "/_search", "{\"query\": {\"hamming\": {\"field\": \"hash\", \"text\": \"x\", \"model\": \"nope\"}}}");
        assertEquals(400, query.status(), query.describe());
        Raw hash = es.raw("POST", "/_deep_hash/models/nope/_hash", "{\"text\": \"x\"}");
        assertEquals(404, hash.status(), hash.describe());
        Raw health = es.raw("GET", "/_cluster/health", (String) null);
        assertEquals(200, health.status(), health.describe());

        JsonNode after = stats();
        for (String kind : List.of("bad_base64", "corrupt_image", "image_too_large", "unsupported_image", "text_too_long", "missing_input")) {
            assertTrue(after.path("errors").path(kind).asLong() > before.path("errors").path(kind).asLong(), kind + " counted: " + after);
        }
        assertTrue(after.get("documents_hashed").asLong() >= 1000, after.toString());
        assertTrue(after.get("queries_hashed").asLong() >= 15, after.toString());
        assertTrue(after.path("inference").path("fused").path("calls").asLong() > 0, after.toString());
        es.raw("DELETE", "/" + INDEX + "-bad", (String) null);
    }

    private JsonNode stats() throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/stats", (String) null);
        assertEquals(200, r.status(), r.describe());
        assertEquals(1, r.json().get("_nodes").get("successful").asInt(), r.describe());
        return r.json().get("nodes").elements().next();
    }

    /** A PNG that is only its signature and an IHDR chunk claiming width x height. */
    static byte[] pngHeader(int width, int height) {
        java.nio.ByteBuffer ihdr = java.nio.ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 6).put((byte) 0).put((byte) 0).put((byte) 0);
        java.nio.ByteBuffer png = java.nio.ByteBuffer.allocate(8 + 12 + 13);
        png.put(new byte[] { (byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' });
        png.putInt(13);
        byte[] type = "IHDR".getBytes(StandardCharsets.US_ASCII);
        png.put(type).put(ihdr.array());
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(type);
        crc.update(ihdr.array());
        png.putInt((int) crc.getValue());
        return png.array();
    }
}
