package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Code;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.deephash.it.ItSupport.hamming;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input to the binary_hash field, the hamming query and the mapping: each gets HTTP 400 with an
 * error that names the field, and the node keeps answering (health and a good query) afterwards.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BadInputIT {
    static final String INDEX = "deep-hash-it-bad";
    static final String FIELD = "hash_code64";
    static final String LENIENT = "hash_lenient64";
    static final String KEYWORD = "label_kw";
    static final String UNMAPPED = "no_such_hash";
    static final String MAP_FIELD = "map_hash_field";

    private long seed;
    private Random rnd;
    private Es es;
    private Code good;
    private final Map<String, String> summary = new LinkedHashMap<>();
    private long startNanos;

    @BeforeAll
    void setUp() throws IOException {
        startNanos = System.nanoTime();
        seed = ItSupport.seed();
        rnd = ItSupport.random(seed);
        System.out.printf(Locale.ROOT, "[BadInputIT] seed=0x%x node=%s%n", seed, ItSupport.esUrl());
        es = new Es();
        es.raw("DELETE", "/" + INDEX + "?ignore_unavailable=true", (String) null);
        String settings = JSON.writeValueAsString(ItSupport.indexSettings(NODES.objectNode().put("number_of_shards", 2)
            .put("number_of_replicas", 0)));
        String create = "{\"settings\":" + settings + ",\"mappings\":{\"properties\":{"
            + "\"" + FIELD + "\":{\"type\":\"binary_hash\",\"bits\":64},"
            + "\"" + LENIENT + "\":{\"type\":\"binary_hash\",\"bits\":64,\"ignore_malformed\":true},"
            + "\"" + KEYWORD + "\":{\"type\":\"keyword\"}}}}";
        Raw r = es.raw("PUT", "/" + INDEX, create);
        assertEquals(200, r.status(), r.describe());
        good = Code.random(64, rnd);
        r = es.raw("PUT", "/" + INDEX + "/_doc/good?refresh=true",
            "{\"" + FIELD + "\":\"" + good.hex() + "\",\"" + LENIENT + "\":\"" + good.hex() + "\",\"" + KEYWORD + "\":\"x\"}");
        assertEquals(201, r.status(), r.describe());
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            for (String idx : List.of(INDEX, "deep-hash-it-map-*")) {
                es.raw("DELETE", "/" + idx + "?ignore_unavailable=true", (String) null);
            }
            es.close();
        }
        System.out.printf(Locale.ROOT, "[BadInputIT] summary seed=0x%x cases=%d total=%.1fs%n", seed, summary.size(),
            (System.nanoTime() - startNanos) / 1e9);
        summary.forEach((k, v) -> System.out.printf(Locale.ROOT, "[BadInputIT]   %-44s %s%n", k, v));
    }

    // ------------------------------------------------------------------ helpers

    private static ArrayNode bits(int n, int value) {
        ArrayNode a = NODES.arrayNode(n);
        for (int i = 0; i < n; i++) {
            a.add(value);
        }
        return a;
    }

    private static String reasonOf(Raw r) {
        JsonNode err = r.json() == null ? null : r.json().path("error");
        if (err == null || err.isMissingNode()) {
            return ItSupport.abbreviate(r.text(), 160);
        }
        // the innermost reason is the most specific one
        JsonNode e = err;
        while (e.has("caused_by")) {
            e = e.get("caused_by");
        }
        return err.path("type").asText() + " / " + ItSupport.abbreviate(e.path("type").asText() + ": " + e.path("reason").asText(), 160);
    }

    /** 400, an error object, and the field (or parameter) named somewhere in it. */
    private void expect400(Checks checks, String name, Raw r, String mention) throws IOException {
        summary.put(name, r.status() + " " + reasonOf(r));
        boolean errorObject = r.json() != null && r.json().has("error");
        String errorText = errorObject ? JSON.writeValueAsString(r.json().get("error")) : "";
        checks.check(r.status() == 400, () -> name + ": expected 400, got " + r.status() + "\n  " + r.describe());
        checks.check(errorObject && errorText.contains(mention),
            () -> name + ": the error does not mention [" + mention + "]\n  " + r.describe());
        nodeStillServes(checks, name);
    }

    /** After bad input: cluster health answers and a good hamming query still finds the good doc. */
    private void nodeStillServes(Checks checks, String after) throws IOException {
        Raw health = es.raw("GET", "/_cluster/health", (String) null);
        checks.check(health.status() == 200, () -> "after " + after + ": _cluster/health " + health.describe());
        Raw q = search(hamming(FIELD, good.hex(), 0));
        checks.check(q.status() == 200 && q.json().path("hits").path("total").path("value").asLong() >= 1
                && "good".equals(q.json().path("hits").path("hits").path(0).path("_id").asText()),
            () -> "after " + after + ": the good query failed\n  " + q.describe());
    }

    private Raw search(JsonNode query) throws IOException {
        ObjectNode body = NODES.objectNode();
        body.set("query", query);
        body.put("track_total_hits", true);
        return es.raw("POST", "/" + INDEX + "/_search", body);
    }

    private static ObjectNode hammingBody(Object... kv) {
        ObjectNode body = NODES.objectNode();
        for (int i = 0; i < kv.length; i += 2) {
            body.set((String) kv[i], JSON.valueToTree(kv[i + 1]));
        }
        ObjectNode q = NODES.objectNode();
        q.set("hamming", body);
        return q;
    }

    // ------------------------------------------------------------------ tests

    @Test
    @Order(1)
    void badValuesAreRejectedAtIndexTime() throws IOException {
        Checks checks = new Checks("bad values");
        Map<String, JsonNode> cases = new LinkedHashMap<>();
        cases.put("index: hex too short (15)", NODES.textNode(good.hex().substring(1)));
        cases.put("index: hex too long (17)", NODES.textNode(good.hex() + "a"));
        cases.put("index: hex of 256 bits", NODES.textNode(good.hex().repeat(4)));
        cases.put("index: empty string", NODES.textNode(""));
        cases.put("index: non-hex char", NODES.textNode("g" + good.hex().substring(1)));
        cases.put("index: 0x prefix", NODES.textNode("0x" + good.hex().substring(2)));
        cases.put("index: array of 63 bits", bits(63, 1));
        cases.put("index: array of 65 bits", bits(65, 0));
        ArrayNode two = bits(64, 0);
        two.set(5, NODES.numberNode(2));
        cases.put("index: array with a 2", two);
        cases.put("index: number", NODES.numberNode(12345));
        cases.put("index: object", NODES.objectNode().put("a", 1));
        int n = 0;
        for (Map.Entry<String, JsonNode> c : cases.entrySet()) {
            ObjectNode doc = NODES.objectNode();
            doc.set(FIELD, c.getValue());
            Raw r = es.raw("PUT", "/" + INDEX + "/_doc/bad" + (n++) + "?refresh=true", doc);
            expect400(checks, c.getKey(), r, FIELD);
        }
        // in a bulk request the bad item fails alone, with 400
        String bulk = "{\"index\":{\"_index\":\"" + INDEX + "\",\"_id\":\"bulk-good\"}}\n"
            + "{\"" + FIELD + "\":\"" + Code.random(64, rnd).hex() + "\"}\n"
            + "{\"index\":{\"_index\":\"" + INDEX + "\",\"_id\":\"bulk-bad\"}}\n"
            + "{\"" + FIELD + "\":\"xyz\"}\n";
        Raw r = es.raw("POST", "/_bulk?refresh=true", bulk);
        summary.put("bulk: one bad item", r.status() + " items " + r.json().path("items").path(0).path("index").path("status")
            + "/" + r.json().path("items").path(1).path("index").path("status"));
        checks.check(r.status() == 200
                && r.json().path("items").path(0).path("index").path("status").asInt() == 201
                && r.json().path("items").path(1).path("index").path("status").asInt() == 400
                && r.json().path("items").path(1).path("index").path("error").toString().contains(FIELD),
            () -> "bulk with one bad item: expected item statuses 201 and 400 naming the field\n  " + r.describe());
        Raw count = es.raw("GET", "/" + INDEX + "/_count", (String) null);
        checks.check(count.json().path("count").asLong() == 2, () -> "only the good docs should be indexed\n  " + count.describe());
        checks.assertNone();
    }

    @Test
    @Order(2)
    void ignoreMalformedKeepsTheDocument() throws IOException {
        Checks checks = new Checks("ignore_malformed");
        Raw r = es.raw("PUT", "/" + INDEX + "/_doc/lenient?refresh=true", "{\"" + LENIENT + "\":\"not-a-code\",\"" + KEYWORD + "\":\"y\"}");
        summary.put("ignore_malformed: bad value", String.valueOf(r.status()));
        checks.check(r.status() == 201, () -> "ignore_malformed: expected 201\n  " + r.describe());
        Raw ignored = es.raw("POST", "/" + INDEX + "/_search",
            "{\"query\":{\"term\":{\"_ignored\":\"" + LENIENT + "\"}},\"_source\":false}");
        checks.check(ignored.status() == 200 && "lenient".equals(ignored.json().path("hits").path("hits").path(0).path("_id").asText()),
            () -> "ignore_malformed: the doc should be listed in _ignored\n  " + ignored.describe());
        Raw exists = es.raw("POST", "/" + INDEX + "/_count", "{\"query\":{\"exists\":{\"field\":\"" + LENIENT + "\"}}}");
        checks.check(exists.status() == 200 && exists.json().path("count").asLong() == 1,
            () -> "ignore_malformed: only the good doc has a value\n  " + exists.describe());
        Raw q = search(hamming(LENIENT, good.hex(), 0));
        checks.check(q.status() == 200 && q.json().path("hits").path("total").path("value").asLong() == 1,
            () -> "ignore_malformed field: good value should be searchable\n  " + q.describe());
        Raw strict = es.raw("PUT", "/" + INDEX + "/_doc/lenient2?refresh=true",
            "{\"" + LENIENT + "\":\"" + good.hex() + "\",\"" + FIELD + "\":\"zz\"}");
        expect400(checks, "index: bad value next to ignore_malformed", strict, FIELD);
        checks.assertNone();
    }

    @Test
    @Order(3)
    void badQueriesAreRejected() throws IOException {
        Checks checks = new Checks("bad queries");
        String hex = good.hex();
        ArrayNode two = bits(64, 0);
        two.set(3, NODES.numberNode(2));
        record Case(String name, JsonNode query, String mention) {}
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("query: code too short (15)", hamming(FIELD, hex.substring(1), null), FIELD));
        cases.add(new Case("query: code of 128 bits", hamming(FIELD, hex + hex, null), FIELD));
        cases.add(new Case("query: code of 128 bits, radius", hamming(FIELD, hex + hex, 3), FIELD));
        cases.add(new Case("query: non-hex code", hamming(FIELD, "q" + hex.substring(1), null), FIELD));
        cases.add(new Case("query: array code of 63 bits", hamming(FIELD, bits(63, 1), null), FIELD));
        cases.add(new Case("query: array code with a 2", hamming(FIELD, two, null), FIELD));
        cases.add(new Case("query: unmapped field", hamming(UNMAPPED, hex, null), UNMAPPED));
        cases.add(new Case("query: unmapped, ignore_unmapped=false",
            hammingBody("field", UNMAPPED, "code", hex, "ignore_unmapped", false), UNMAPPED));
        cases.add(new Case("query: keyword field", hamming(KEYWORD, hex, null), KEYWORD));
        cases.add(new Case("query: keyword field, ignore_unmapped=true",
            hammingBody("field", KEYWORD, "code", hex, "ignore_unmapped", true), KEYWORD));
        cases.add(new Case("query: max_distance -1", hamming(FIELD, hex, -1), FIELD));
        cases.add(new Case("query: max_distance 65 > bits", hamming(FIELD, hex, 65), FIELD));
        cases.add(new Case("query: missing code", hammingBody("field", FIELD, "max_distance", 3), "code"));
        cases.add(new Case("query: missing field", hammingBody("code", hex), "field"));
        for (Case c : cases) {
            expect400(checks, c.name(), search(c.query()), c.mention());
        }
        // the bad query inside a bool is just as bad
        ObjectNode bool = NODES.objectNode();
        bool.putObject("bool").putArray("must").add(hamming(FIELD, hex.substring(2), null));
        expect400(checks, "query: bad code inside bool", search(bool), FIELD);
        checks.assertNone();
    }

    @Test
    @Order(4)
    void edgeCasesThatAreFine() throws IOException {
        Checks checks = new Checks("good edges");
        Raw unmapped = search(hammingBody("field", UNMAPPED, "code", good.hex(), "ignore_unmapped", true));
        summary.put("query: unmapped, ignore_unmapped=true", unmapped.status() + " hits="
            + unmapped.json().path("hits").path("total").path("value"));
        checks.check(unmapped.status() == 200 && unmapped.json().path("hits").path("total").path("value").asLong() == 0,
            () -> "ignore_unmapped=true: expected 200 with no hits\n  " + unmapped.describe());
        Raw r0 = search(hamming(FIELD, good.hex().toUpperCase(Locale.ROOT), 0));
        checks.check(r0.status() == 200 && r0.json().path("hits").path("total").path("value").asLong() == 1,
            () -> "max_distance 0 with upper-case code: expected exactly the good doc\n  " + r0.describe());
        Raw r64 = search(hamming(FIELD, good.hex(), 64));
        long docsWithValue = es.raw("POST", "/" + INDEX + "/_count", "{\"query\":{\"exists\":{\"field\":\"" + FIELD + "\"}}}")
            .json().path("count").asLong();
        checks.check(r64.status() == 200 && r64.json().path("hits").path("total").path("value").asLong() == docsWithValue,
            () -> "max_distance = bits: every doc with a value matches (" + docsWithValue + ")\n  " + r64.describe());
        checks.assertNone();
    }

    @Test
    @Order(5)
    void badMappingsAreRejected() throws IOException {
        Checks checks = new Checks("bad mappings");
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("mapping: bits missing", "{\"type\":\"binary_hash\"}");
        cases.put("mapping: bits 12", "{\"type\":\"binary_hash\",\"bits\":12}");
        cases.put("mapping: bits 0", "{\"type\":\"binary_hash\",\"bits\":0}");
        cases.put("mapping: bits -64", "{\"type\":\"binary_hash\",\"bits\":-64}");
        cases.put("mapping: bits 4104 (> 4096)", "{\"type\":\"binary_hash\",\"bits\":4104}");
        cases.put("mapping: bits 8192", "{\"type\":\"binary_hash\",\"bits\":8192}");
        cases.put("mapping: bits \"abc\"", "{\"type\":\"binary_hash\",\"bits\":\"abc\"}");
        int n = 0;
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String idx = "deep-hash-it-map-bad" + (n++);
            Raw r = es.raw("PUT", "/" + idx, "{\"mappings\":{\"properties\":{\"" + MAP_FIELD + "\":" + c.getValue() + "}}}");
            // a non-numeric bits is rejected by ES's own number parsing, whose message names the value
            // (as for keyword's ignore_above), not the field
            expect400(checks, c.getKey(), r, c.getKey().contains("abc") ? "abc" : MAP_FIELD);
            es.raw("DELETE", "/" + idx + "?ignore_unavailable=true", (String) null);
        }
        // the limits themselves are fine
        for (int bits : new int[] {8, 4096}) {
            String idx = "deep-hash-it-map-ok" + bits;
            Raw r = es.raw("PUT", "/" + idx, "{\"mappings\":{\"properties\":{\"" + MAP_FIELD + "\":{\"type\":\"binary_hash\",\"bits\":" + bits + "}}}}");
            summary.put("mapping: bits " + bits, String.valueOf(r.status()));
            checks.check(r.status() == 200, () -> "bits " + bits + " should be accepted\n  " + r.describe());
            Code c = Code.random(bits, rnd);
            Raw doc = es.raw("PUT", "/" + idx + "/_doc/1?refresh=true", "{\"" + MAP_FIELD + "\":\"" + c.hex() + "\"}");
            checks.check(doc.status() == 201, () -> "bits " + bits + ": indexing a good code\n  " + doc.describe());
            Raw q = es.raw("POST", "/" + idx + "/_search", "{\"query\":" + hamming(MAP_FIELD, c.hex(), 0) + "}");
            checks.check(q.status() == 200 && q.json().path("hits").path("hits").path(0).path("_score").asDouble() == 1.0,
                () -> "bits " + bits + ": exact match should score 1.0\n  " + q.describe());
            es.raw("DELETE", "/" + idx, (String) null);
        }
        // changing bits on an existing field is refused; repeating the same mapping is fine
        String idx = "deep-hash-it-map-change";
        Raw created = es.raw("PUT", "/" + idx, "{\"mappings\":{\"properties\":{\"" + MAP_FIELD + "\":{\"type\":\"binary_hash\",\"bits\":64}}}}");
        assertEquals(200, created.status(), created.describe());
        Raw same = es.raw("PUT", "/" + idx + "/_mapping", "{\"properties\":{\"" + MAP_FIELD + "\":{\"type\":\"binary_hash\",\"bits\":64}}}");
        summary.put("mapping: PUT _mapping same bits", String.valueOf(same.status()));
        checks.check(same.status() == 200, () -> "PUT _mapping with the same bits should be accepted\n  " + same.describe());
        Raw changed = es.raw("PUT", "/" + idx + "/_mapping", "{\"properties\":{\"" + MAP_FIELD + "\":{\"type\":\"binary_hash\",\"bits\":128}}}");
        expect400(checks, "mapping: PUT _mapping bits 64 -> 128", changed, MAP_FIELD);
        Raw mapping = es.raw("GET", "/" + idx + "/_mapping", (String) null);
        checks.check(mapping.json().path(idx).path("mappings").path("properties").path(MAP_FIELD).path("bits").asInt() == 64,
            () -> "bits must still be 64 after the refused change\n  " + mapping.describe());
        es.raw("DELETE", "/" + idx, (String) null);
        checks.assertNone();
    }

    @Test
    @Order(6)
    void otherUsesOfTheFieldNeverFailWithServerErrors() throws IOException {
        Checks checks = new Checks("other uses");
        String hex = good.hex();
        String hq = "{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":\"" + hex + "\"}}";
        record Case(String name, String method, String path, String body, int expected) {}
        List<Case> cases = List.of(
            // bad values of the query's parameters: 400
            new Case("query: code null", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":null}}}", 400),
            new Case("query: code a number", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":12}}}", 400),
            new Case("query: code an object", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":{\"a\":1}}}}", 400),
            new Case("query: unknown parameter", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":\"" + hex + "\",\"foo\":1}}}", 400),
            new Case("query: max_distance 1.5", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":\"" + hex + "\",\"max_distance\":1.5}}}", 400),
            new Case("query: negative boost", "POST", "/_search", "{\"query\":{\"hamming\":{\"field\":\"" + FIELD + "\",\"code\":\"" + hex + "\",\"boost\":-1}}}", 400),
            // the query with the usual search features: 200
            new Case("query: explain", "POST", "/_search", "{\"explain\":true,\"query\":" + hq + "}", 200),
            new Case("query: profile", "POST", "/_search", "{\"profile\":true,\"query\":" + hq + "}", 200),
            new Case("query: _validate explain", "POST", "/_validate/query?explain=true", "{\"query\":" + hq + "}", 200),
            new Case("query: highlight another field", "POST", "/_search", "{\"query\":{\"bool\":{\"must\":[" + hq
                + ",{\"term\":{\"" + KEYWORD + "\":\"x\"}}]}},\"highlight\":{\"fields\":{\"" + KEYWORD + "\":{}}}}", 200),
            new Case("query: function_score weight", "POST", "/_search", "{\"query\":{\"function_score\":{\"query\":" + hq
                + ",\"functions\":[{\"weight\":2}]}}}", 200),
            new Case("query: dis_max", "POST", "/_search", "{\"query\":{\"dis_max\":{\"queries\":[" + hq + "," + hq + "]}}}", 200),
            new Case("query: rescore", "POST", "/_search", "{\"query\":{\"match_all\":{}},\"rescore\":{\"window_size\":10,\"query\":{\"rescore_query\":"
                + hq + "}}}", 200),
            new Case("_msearch", "POST", "/_msearch", "{}\n{\"query\":" + hq + "}\n{}\n{\"query\":" + hq + ",\"size\":0}\n", 200),
            // the field under other queries, sorts and aggregations: 200 or 400, never a server error
            new Case("field: sort", "POST", "/_search", "{\"sort\":[{\"" + FIELD + "\":\"asc\"}]}", -1),
            new Case("field: terms aggregation", "POST", "/_search", "{\"size\":0,\"aggs\":{\"a\":{\"terms\":{\"field\":\"" + FIELD + "\"}}}}", -1),
            new Case("field: cardinality aggregation", "POST", "/_search", "{\"size\":0,\"aggs\":{\"a\":{\"cardinality\":{\"field\":\"" + FIELD + "\"}}}}", -1),
            new Case("field: term query", "POST", "/_search", "{\"query\":{\"term\":{\"" + FIELD + "\":\"" + hex + "\"}}}", -1),
            new Case("field: term query, bad value", "POST", "/_search", "{\"query\":{\"term\":{\"" + FIELD + "\":\"zz\"}}}", -1),
            new Case("field: match query", "POST", "/_search", "{\"query\":{\"match\":{\"" + FIELD + "\":\"" + hex + "\"}}}", -1),
            new Case("field: range query", "POST", "/_search", "{\"query\":{\"range\":{\"" + FIELD + "\":{\"gte\":\"00\"}}}}", -1),
            new Case("field: prefix query", "POST", "/_search", "{\"query\":{\"prefix\":{\"" + FIELD + "\":\"0\"}}}", -1),
            new Case("field: query_string", "POST", "/_search", "{\"query\":{\"query_string\":{\"query\":\"" + FIELD + ":" + hex + "\"}}}", -1),
            new Case("field: multi_match all fields", "POST", "/_search", "{\"query\":{\"multi_match\":{\"query\":\"" + hex + "\",\"fields\":[\"*\"],\"lenient\":true}}}", -1),
            new Case("field: fields wildcard + format", "POST", "/_search", "{\"fields\":[\"*\"],\"docvalue_fields\":[{\"field\":\"" + FIELD + "\",\"format\":\"use_field_mapping\"}]}", -1),
            new Case("field: _field_caps", "GET", "/_field_caps?fields=" + FIELD, null, 200));
        for (Case c : cases) {
            Raw r = es.raw(c.method(), "/" + INDEX + c.path(), c.body());
            summary.put(c.name(), r.status() + (r.status() == 200 ? "" : " " + reasonOf(r)));
            if (c.expected() == 400) {
                checks.check(r.status() == 400, () -> c.name() + ": expected 400\n  " + r.describe());
            } else if (c.expected() == 200) {
                checks.check(r.status() == 200 && !r.text().contains("\"error\""), () -> c.name() + ": expected 200\n  " + r.describe());
            } else {
                checks.check(r.status() == 200 || r.status() == 400, () -> c.name() + ": expected 200 or 400\n  " + r.describe());
            }
            nodeStillServes(checks, c.name());
        }
        // explain shows the distance
        Raw explain = es.raw("POST", "/" + INDEX + "/_search", "{\"explain\":true,\"query\":" + hq + "}");
        checks.check(explain.text().toLowerCase(Locale.ROOT).contains("distance"),
            () -> "explain should mention the distance\n  " + explain.describe());
        checks.assertNone();
    }

    @Test
    @Order(7)
    void nodeIsHealthyAtTheEnd() throws IOException {
        Raw health = es.raw("GET", "/_cluster/health?wait_for_status=green&timeout=10s&level=cluster", (String) null);
        assertEquals(200, health.status(), health.describe());
        assertTrue(health.json().path("number_of_nodes").asInt() >= 1, health.describe());
        Checks checks = new Checks("end");
        nodeStillServes(checks, "all bad input");
        checks.assertNone();
    }
}
