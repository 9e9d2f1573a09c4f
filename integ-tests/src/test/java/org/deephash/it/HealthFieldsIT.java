package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two fields the collection-health dashboard stands on, on a real node, with and without the
 * plugin's codec: the processor's {@code model_info_field} records which model version hashed each
 * document and when (and is how a user finds and re-hashes what an older version hashed), and
 * {@code binary_hash}'s {@code bits_field} exposes each code's set bits to aggregations, queries and
 * {@code _field_caps} as an integer sub-field, counted against the codes themselves.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HealthFieldsIT {
    static final String INDEX = "deep-hash-it-health";
    static final String PIPELINE = "deep-hash-it-health";
    static final Path REPO = Path.of(System.getProperty("tests.repo.root", ".."));
    static final int DOCS = 60;
    static final int OLD = 7;

    private Es es;
    private final List<JsonNode> pictures = new ArrayList<>();
    private String version;

    @BeforeAll
    void setUp() throws IOException {
        es = new Es();
        for (String line : Files.readAllLines(REPO.resolve("demo/emoji-test-sample.ndjson"), StandardCharsets.UTF_8)) {
            pictures.add(JSON.readTree(line));
            if (pictures.size() == DOCS) {
                break;
            }
        }
        Raw models = es.raw("GET", "/_deep_hash/models/default", (String) null);
        assertEquals(200, models.status(), models.describe());
        version = models.json().get("models").get(0).get("version").asText();
        Raw r = es.raw("PUT", "/_ingest/pipeline/" + PIPELINE, """
            {"processors": [{"deep_hash": {"image_field": "image", "text_field": "caption", "target_field": "hash",
              "image_target_field": "image_hash", "model_info_field": "model_info"}}]}""");
        assertEquals(200, r.status(), r.describe());
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            es.raw("DELETE", "/" + INDEX + "-*?ignore_unavailable=true", (String) null);
            es.raw("DELETE", "/_ingest/pipeline/" + PIPELINE, (String) null);
            es.close();
        }
    }

    private String createIndex(boolean codec) throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(codec == false || ItSupport.codecSettingSupported(es), "codec setting not registered");
        String index = INDEX + (codec ? "-codec" : "-default");
        es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
        ObjectNode settings = NODES.objectNode().put("number_of_shards", 2).put("number_of_replicas", 0);
        if (codec) {
            settings.put("index.deep_hash.codec", true);
        }
        String body = "{\"settings\": " + JSON.writeValueAsString(ItSupport.indexSettings(settings)) + ", \"mappings\": {\"properties\": {"
            + "\"hash\": {\"type\": \"binary_hash\", \"bits\": 64},"
            + "\"image_hash\": {\"type\": \"binary_hash\", \"bits\": 64, \"bits_field\": true},"
            + "\"image\": {\"type\": \"binary\"}, \"label\": {\"type\": \"keyword\"},"
            + "\"model_info\": {\"properties\": {\"name\": {\"type\": \"keyword\"}, \"version\": {\"type\": \"keyword\"}, \"hashed_at\": {\"type\": \"date\"}}}}}}";
        Raw r = es.raw("PUT", "/" + index, body);
        assertEquals(200, r.status(), r.describe());
        return index;
    }

    private void bulk(String index, String pipeline, List<ObjectNode> docs, List<String> ids) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < docs.size(); i++) {
            sb.append("{\"index\": {\"_id\": \"").append(ids.get(i)).append("\"}}\n").append(JSON.writeValueAsString(docs.get(i))).append('\n');
        }
        Raw r = es.ndjson("/" + index + "/_bulk?refresh=true&pipeline=" + pipeline, sb.toString());
        assertEquals(200, r.status(), r.describe());
        assertEquals(false, r.json().get("errors").asBoolean(), r.describe());
    }

    /** The first {@code count} demo pictures with their captions, as documents. */
    private List<ObjectNode> pictures(int count) {
        List<ObjectNode> docs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            docs.add(picture(i));
        }
        return docs;
    }

    /** Their ids: p0, p1... */
    private static List<String> pictureIds(int count) {
        return java.util.stream.IntStream.range(0, count).mapToObj(i -> "p" + i).toList();
    }

    private ObjectNode picture(int i) {
        JsonNode p = pictures.get(i);
        ObjectNode doc = NODES.objectNode();
        doc.put("image", p.get("image").asText());
        doc.set("caption", p.get("caption"));
        doc.put("label", p.get("label").asText());
        return doc;
    }

    private Map<String, JsonNode> sources(String index) throws IOException {
        Raw r = es.raw("POST", "/" + index + "/_search", "{\"size\": 1000}");
        assertEquals(200, r.status(), r.describe());
        Map<String, JsonNode> out = new TreeMap<>();
        r.json().get("hits").get("hits").forEach(h -> out.put(h.get("_id").asText(), h.get("_source")));
        return out;
    }

    /**
     * Every document the pipeline hashed carries {name, version, hashed_at} of the model that hashed it,
     * hashed_at between the bulk's start and end; documents written as an older version wrote them are
     * found by a query on model_info.version, indexed again through the pipeline, and then carry the
     * current version, a later hashed_at and the codes {@code _hash} gives their inputs.
     */
    @ParameterizedTest(name = "codec {0}")
    @ValueSource(booleans = { false, true })
    void modelInfoSaysWhichVersionHashedADocumentAndWhen(boolean codec) throws IOException {
        String index = createIndex(codec);
        List<ObjectNode> docs = pictures(DOCS - OLD);
        List<String> ids = pictureIds(DOCS - OLD);
        Instant before = Instant.now().minusSeconds(1);
        bulk(index, PIPELINE, docs, ids);
        Instant after = Instant.now().plusSeconds(1);
        // What an older model version wrote three days ago (the pipeline bypassed): a code and its model_info.
        String oldAt = Instant.now().minusSeconds(3 * 86400).toString();
        List<ObjectNode> old = new ArrayList<>();
        List<String> oldIds = new ArrayList<>();
        for (int i = DOCS - OLD; i < DOCS; i++) {
            ObjectNode doc = picture(i);
            doc.put("hash", "0123456789abcdef").put("image_hash", "fedcba9876543210");
            doc.putObject("model_info").put("name", "default").put("version", "fused-64-seed7").put("hashed_at", oldAt);
            old.add(doc);
            oldIds.add("old" + i);
        }
        bulk(index, "_none", old, oldIds);

        Checks checks = new Checks("model_info");
        Map<String, JsonNode> sources = sources(index);
        for (String id : ids) {
            JsonNode info = sources.get(id).get("model_info");
            checks.check(info != null && "default".equals(info.path("name").asText()) && version.equals(info.path("version").asText()),
                () -> id + ": model_info " + info + ", expected name default, version " + version);
            if (info != null) {
                Instant at = Instant.parse(info.get("hashed_at").asText());
                checks.check(at.isAfter(before) && at.isBefore(after), () -> id + ": hashed_at " + at + " not within " + before + ".." + after);
            }
        }
        checks.assertNone();

        // The health dashboard's question: how many documents did each version hash (and when)?
        Raw agg = es.raw("POST", "/" + index + "/_search", """
            {"size": 0, "aggs": {"versions": {"terms": {"field": "model_info.version"}},
             "recent": {"filter": {"range": {"model_info.hashed_at": {"gte": "now-1d"}}}}}}""");
        assertEquals(200, agg.status(), agg.describe());
        Map<String, Integer> versions = new HashMap<>();
        agg.json().get("aggregations").get("versions").get("buckets").forEach(b -> versions.put(b.get("key").asText(), b.get("doc_count").asInt()));
        assertEquals(Map.of(version, DOCS - OLD, "fused-64-seed7", OLD), versions, agg.describe());
        assertEquals(DOCS - OLD, agg.json().get("aggregations").get("recent").get("doc_count").asInt(), agg.describe());

        // Re-hash what the older version hashed: find it by version, index it again through the pipeline.
        Raw stale = es.raw("POST", "/" + index + "/_search", "{\"size\": 100, \"query\": {\"bool\": {\"must_not\": {\"term\": {\"model_info.version\": \""
            + version + "\"}}}}}");
        List<ObjectNode> again = new ArrayList<>();
        List<String> againIds = new ArrayList<>();
        stale.json().get("hits").get("hits").forEach(h -> {
            ObjectNode src = ((ObjectNode) h.get("_source")).deepCopy();
            src.remove(List.of("hash", "image_hash", "model_info"));
            again.add(src);
            againIds.add(h.get("_id").asText());
        });
        assertEquals(new java.util.TreeSet<>(oldIds), new java.util.TreeSet<>(againIds), stale.describe());
        Instant rehashed = Instant.now().minusSeconds(1);
        bulk(index, PIPELINE, again, againIds);
        sources = sources(index);
        for (int k = 0; k < againIds.size(); k++) {
            String id = againIds.get(k);
            JsonNode src = sources.get(id);
            JsonNode p = again.get(k);
            String text = String.join(", ", JSON.convertValue(p.get("caption"), List.class));
            JsonNode alone = es.raw("POST", "/_deep_hash/models/default/_hash",
                "{\"text\": " + JSON.writeValueAsString(text) + ", \"image\": \"" + p.get("image").asText() + "\"}").json();
            checks.check(version.equals(src.path("model_info").path("version").asText())
                && Instant.parse(src.get("model_info").get("hashed_at").asText()).isAfter(rehashed), () -> id + ": re-hashed " + src.get("model_info"));
            checks.check(alone.get("code").asText().equals(src.get("hash").asText())
                && alone.get("codes").get("image").asText().equals(src.get("image_hash").asText()), () -> id + ": codes after re-hashing " + src);
        }
        checks.assertNone();
        Raw count = es.raw("POST", "/" + index + "/_count", "{\"query\": {\"term\": {\"model_info.version\": \"" + version + "\"}}}");
        assertEquals(DOCS, count.json().get("count").asInt(), count.describe());
        System.out.printf(Locale.ROOT, "[HealthFieldsIT] codec %s: %d documents hashed by %s with their time, %d of an older version found and re-hashed%n",
            codec, DOCS - OLD, version, OLD);
    }

    /**
     * {@code <field>.bits} holds the positions of each code's set bits: per-bit document counts from a
     * terms and a histogram aggregation, term and exists queries, and _field_caps all agree with the
     * codes' hex, including an all-zero code (no bits) and a document without a code.
     */
    @ParameterizedTest(name = "codec {0}")
    @ValueSource(booleans = { false, true })
    void bitsFieldCountsWhatTheCodesSay(boolean codec) throws IOException {
        String index = createIndex(codec);
        bulk(index, PIPELINE, pictures(DOCS), pictureIds(DOCS));
        ObjectNode zero = NODES.objectNode().put("label", "all zero").put("image_hash", "0000000000000000");
        ObjectNode none = NODES.objectNode().put("label", "no code");
        ObjectNode array = NODES.objectNode().put("label", "bits as an array");
        var bitsArray = array.putArray("image_hash");
        for (int b = 0; b < 64; b++) {
            bitsArray.add(b % 3 == 0 ? 1 : 0);
        }
        bulk(index, "_none", List.of(zero, none, array), List.of("zero", "none", "array"));

        int[] perBit = new int[64];
        int coded = 0;
        for (JsonNode src : sources(index).values()) {
            if (src.has("image_hash") == false) {
                continue;
            }
            coded++;
            JsonNode code = src.get("image_hash");
            for (int b = 0; b < 64; b++) {
                boolean set = code.isArray() ? code.get(b).asInt() == 1
                    : (Character.digit(code.asText().charAt(b / 4), 16) & (8 >> (b % 4))) != 0;
                perBit[b] += set ? 1 : 0;
            }
        }
        assertEquals(DOCS + 2, coded);
        Raw agg = es.raw("POST", "/" + index + "/_search", """
            {"size": 0, "aggs": {"terms": {"terms": {"field": "image_hash.bits", "size": 100}},
             "histogram": {"histogram": {"field": "image_hash.bits", "interval": 1, "min_doc_count": 0, "extended_bounds": {"min": 0, "max": 63}}},
             "with_bits": {"filter": {"exists": {"field": "image_hash.bits"}}},
             "with_code": {"filter": {"exists": {"field": "image_hash"}}}}}""");
        assertEquals(200, agg.status(), agg.describe());
        JsonNode aggs = agg.json().get("aggregations");
        int[] terms = new int[64];
        aggs.get("terms").get("buckets").forEach(b -> terms[b.get("key").asInt()] = b.get("doc_count").asInt());
        int[] histogram = new int[64];
        aggs.get("histogram").get("buckets").forEach(b -> histogram[(int) b.get("key").asDouble()] = b.get("doc_count").asInt());
        assertEquals(java.util.Arrays.toString(perBit), java.util.Arrays.toString(terms), "terms per bit");
        assertEquals(java.util.Arrays.toString(perBit), java.util.Arrays.toString(histogram), "histogram per bit");
        assertEquals(64, aggs.get("histogram").get("buckets").size(), agg.describe());
        // The all-zero code has a code but no set bit; the document without a code has neither.
        assertEquals(coded, aggs.get("with_code").get("doc_count").asInt(), agg.describe());
        assertEquals(coded - 1, aggs.get("with_bits").get("doc_count").asInt(), agg.describe());
        for (int b : new int[] { 0, 5, 31, 63 }) {
            Raw term = es.raw("POST", "/" + index + "/_count", "{\"query\": {\"term\": {\"image_hash.bits\": " + b + "}}}");
            assertEquals(200, term.status(), term.describe());
            assertEquals(perBit[b], term.json().get("count").asInt(), "documents with bit " + b + " set: " + term.describe());
        }
        Raw caps = es.raw("GET", "/" + index + "/_field_caps?fields=image_hash.bits", (String) null);
        JsonNode cap = caps.json().get("fields").get("image_hash.bits").get("integer");
        assertTrue(cap != null && cap.get("aggregatable").asBoolean() && cap.get("searchable").asBoolean(), caps.describe());
        // bits_field cannot be turned on for codes already indexed: the mapping update says so.
        Raw update = es.raw("PUT", "/" + index + "/_mapping", "{\"properties\": {\"hash\": {\"type\": \"binary_hash\", \"bits\": 64, \"bits_field\": true}}}");
        assertEquals(400, update.status(), update.describe());
        assertTrue(update.text().contains("bits_field"), update.describe());
        System.out.printf(Locale.ROOT, "[HealthFieldsIT] codec %s: %d codes, per-bit counts from terms/histogram/term equal the hex codes'%n", codec, coded);
    }
}
