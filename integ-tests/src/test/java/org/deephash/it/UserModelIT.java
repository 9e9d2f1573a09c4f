package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model trained on a user's own collection (model/public-collections/run.sh --quick trains one on Material
 * Design Icons with model/train_collection.py: MobileNetV2 picture encoder as an ONNX graph chained before
 * the head, MiniLM captions), installed by integ-tests/run.sh under the node's
 * {@code config/deep-hash/models/user-trained/}: the node lists it, {@code _hash} and the {@code deep_hash}
 * processor give the codes training recorded in its golden.json through the whole chain (picture bytes ->
 * encoder -> head), and the {@code hamming} query searches with it by text and by picture.
 *
 * <p>{@code -Dtests.user.model.dir} names the installed directory (run.sh sets it when the model exists;
 * scripts/test.sh trains it before the real-node tests, so there it always runs).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UserModelIT {
    static final String MODEL = "user-trained";
    static final String INDEX = "deep-hash-it-user-model";
    static final String PIPELINE = "deep-hash-it-user-model";

    private Es es;
    private final List<JsonNode> golden = new ArrayList<>();
    private int bits;

    @BeforeAll
    void setUp() throws IOException {
        String dir = System.getProperty("tests.user.model.dir", "");
        org.junit.jupiter.api.Assumptions.assumeTrue(dir.isEmpty() == false, "no user-trained model installed (scripts/test.sh trains one)");
        es = new Es();
        Path path = Path.of(dir);
        JSON.readTree(path.resolve("golden.json").toFile()).forEach(golden::add);
        bits = JSON.readTree(path.resolve("model.json").toFile()).get("bits").asInt();
        assertTrue(Files.exists(path.resolve("image-encoder.onnx")), "the user model should chain a picture encoder");
        es.raw("DELETE", "/" + INDEX + "?ignore_unavailable=true", (String) null);
        Raw r = es.raw("PUT", "/" + INDEX, """
            {"settings": {"number_of_shards": 2, "number_of_replicas": 0},
             "mappings": {"properties": {
               "hash": {"type": "binary_hash", "bits": %d},
               "image_hash": {"type": "binary_hash", "bits": %d},
               "text_hash": {"type": "binary_hash", "bits": %d}}}}""".formatted(bits, bits, bits));
        assertEquals(200, r.status(), r.describe());
        r = es.raw("PUT", "/_ingest/pipeline/" + PIPELINE, """
            {"processors": [{"deep_hash": {"model": "%s", "image_field": "image", "text_field": "caption", "target_field": "hash",
              "image_target_field": "image_hash", "text_target_field": "text_hash", "remove_image": true, "ignore_missing": true}}]}"""
            .formatted(MODEL));
        assertEquals(200, r.status(), r.describe());
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            es.raw("DELETE", "/" + INDEX + "?ignore_unavailable=true", (String) null);
            es.raw("DELETE", "/_ingest/pipeline/" + PIPELINE, (String) null);
            es.close();
        }
    }

    @Test
    void theNodeListsTheUserModel() throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/models/" + MODEL, (String) null);
        assertEquals(200, r.status(), r.describe());
        JsonNode model = r.json().get("models").get(0);
        assertEquals("user", model.get("source").asText(), r.describe());
        assertTrue(model.get("usable").asBoolean(), r.describe());
        assertEquals(bits, model.get("bits").asInt(), r.describe());
    }

    /** The golden inputs' codes through _hash: picture bytes, caption, or both, as training recorded them. */
    @Test
    void hashGivesTheGoldenCodes() throws IOException {
        for (JsonNode c : golden) {
            Raw r = es.raw("POST", "/_deep_hash/models/" + MODEL + "/_hash", request(c));
            assertEquals(200, r.status(), r.describe());
            assertEquals(c.get("code").asText(), r.json().get("code").asText(), c.get("name").asText() + ": " + r.describe());
            assertEquals(c.get("entry").asText(), r.json().get("entry_point").asText(), r.describe());
        }
    }

    /** Documents through the pipeline get the golden codes; each is found again by its own caption and picture. */
    @Test
    void ingestAndSearchWithTheUserModel() throws IOException {
        StringBuilder bulk = new StringBuilder();
        List<JsonNode> docs = new ArrayList<>();
        for (JsonNode c : golden) {
            if (c.get("entry").asText().equals("fused")) {
                docs.add(c);
                bulk.append("{\"index\": {\"_id\": \"").append(docs.size()).append("\"}}\n");
                ObjectNode doc = NODES.objectNode().put("image", c.get("image_png_base64").asText()).put("caption", c.get("text").asText());
                bulk.append(JSON.writeValueAsString(doc)).append('\n');
            }
        }
        assertTrue(docs.size() >= 2, "golden.json should hold fused cases");
        Raw r = es.raw("POST", "/" + INDEX + "/_bulk?refresh=true&pipeline=" + PIPELINE, bulk.toString());
        assertEquals(200, r.status(), r.describe());
        assertTrue(r.json().get("errors").asBoolean() == false, r.describe());
        for (int i = 0; i < docs.size(); i++) {
            String id = Integer.toString(i + 1);
            Raw doc = es.raw("GET", "/" + INDEX + "/_doc/" + id, (String) null);
            assertEquals(docs.get(i).get("code").asText(), doc.json().get("_source").get("hash").asText(), doc.describe());
            for (String[] by : new String[][] { { "text", "text_hash", "text" }, { "image", "image_hash", "image_png_base64" } }) {
                ObjectNode hamming = NODES.objectNode();
                hamming.put("field", by[1]).put("model", MODEL).put(by[0], docs.get(i).get(by[2]).asText()).put("max_distance", 0);
                ObjectNode query = NODES.objectNode();
                query.putObject("query").set("hamming", hamming);
                Raw hits = es.raw("POST", "/" + INDEX + "/_search", query);
                assertEquals(200, hits.status(), hits.describe());
                List<String> ids = new ArrayList<>();
                hits.json().get("hits").get("hits").forEach(h -> ids.add(h.get("_id").asText()));
                assertTrue(ids.contains(id), "searching by the " + by[0] + " of doc " + id + " at distance 0: " + hits.describe());
            }
        }
    }

    private static ObjectNode request(JsonNode c) {
        ObjectNode body = NODES.objectNode();
        String entry = c.get("entry").asText();
        if (entry.equals("image") || entry.equals("fused")) {
            body.put("image", c.get("image_png_base64").asText());
        }
        if (entry.equals("text") || entry.equals("fused")) {
            body.put("text", c.get("text").asText());
        }
        return body;
    }
}
