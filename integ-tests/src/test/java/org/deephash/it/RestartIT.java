package org.deephash.it;

import co.elastic.clients.elasticsearch.core.BulkRequest;
import co.elastic.clients.elasticsearch.core.BulkResponse;
import co.elastic.clients.elasticsearch.core.SearchRequest;
import co.elastic.clients.elasticsearch.core.SearchResponse;
import co.elastic.clients.elasticsearch.core.search.Hit;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Code;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.deephash.it.ItSupport.expectedScore;
import static org.deephash.it.ItSupport.hamming;
import static org.deephash.it.ItSupport.queryOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Codes survive a full restart of the node. Two phases, run by integ-tests/run.sh around a node
 * restart ({@code -Dtests.restart.phase=before}, then {@code after}); skipped when no phase is given.
 * <ul>
 *   <li>before: indices with the default and the best_compression codec, each with ES's doc-values
 *   formats and (when the plugin has the setting) with the plugin's own (index.deep_hash.codec);
 *   several segments, deletes and updates, flushed; answers checked against the oracle and recorded, with the docs, in
 *   target/restart-it-state.json.</li>
 *   The indices are snapshotted too, to an fs repository under the node's path.repo.</li>
 *   <li>after: the same queries give the same answers; then deletes, updates (soft deletes on segments
 *   read from disk) and new docs, and a force-merge, each checked against the oracle. The snapshot taken
 *   before is restored under other names and gives the recorded answers; a snapshot of a restored index
 *   taken now is restored again and gives them too.</li>
 * </ul>
 * The upgrade test (integ-tests/upgrade.sh) runs the two phases on two Elasticsearch releases, the
 * before phase on 8.19 and the after phase on 9.1 over the same data path: a full-cluster restart upgrade.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestartIT {
    static final String[] CODECS = {"default", "best_compression"};
    static final String[] FIELDS = {"h64", "h128"};
    static final int[] BITS = {64, 128};

    private String phase;
    private Es es;
    private long seed;
    private Random rnd;
    private Path stateFile;
    /** per index: id -> codes per field (null = none) */
    private final Map<String, Map<String, Code[]>> docs = new LinkedHashMap<>();
    private final Checks checks = new Checks("restart");
    private long startNanos;

    @BeforeAll
    void setUp() throws IOException {
        phase = ItSupport.setting("tests.restart.phase", "TESTS_RESTART_PHASE");
        Assumptions.assumeTrue(phase != null, "RestartIT runs only under integ-tests/run.sh (-Dtests.restart.phase=before|after)");
        startNanos = System.nanoTime();
        stateFile = Paths.get(System.getProperty("basedir", "."), "target", "restart-it-state.json");
        es = new Es();
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            es.close();
        }
        if (phase != null) {
            System.out.printf(Locale.ROOT, "[RestartIT] phase=%s seed=0x%x checks=%d total=%.1fs%n", phase, seed, checks.total(),
                (System.nanoTime() - startNanos) / 1e9);
        }
    }

    @Test
    void restart() throws IOException {
        if ("before".equals(phase)) {
            before();
        } else if ("after".equals(phase)) {
            after();
        } else {
            throw new IllegalArgumentException("tests.restart.phase must be before or after, not " + phase);
        }
        checks.assertNone();
    }

    // ------------------------------------------------------------------ phases

    private static final String PIPELINE = "deep-hash-it-restart-pipeline";

    private void before() throws IOException {
        Files.deleteIfExists(stateFile);
        // A deep_hash pipeline that the node must rebuild from its cluster state at startup.
        Raw pipeline = es.raw("PUT", "/_ingest/pipeline/" + PIPELINE, "{\"processors\": [{\"deep_hash\": {\"text_field\": \"caption\"}}]}");
        assertEquals(200, pipeline.status(), pipeline.describe());
        seed = ItSupport.seed();
        rnd = ItSupport.random(seed);
        System.out.printf(Locale.ROOT, "[RestartIT] before restart: seed=0x%x node=%s%n", seed, es.url);
        boolean fixedBits = ItSupport.codecSettingSupported(es);
        for (int v = 0; v < CODECS.length * (fixedBits ? 2 : 1); v++) {
            String codec = CODECS[v % CODECS.length];
            boolean own = v >= CODECS.length;
            String index = "deep-hash-it-restart-" + codec.replace('_', '-') + (own ? "-fixedbits" : "");
            es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
            ObjectNode props = NODES.objectNode();
            for (int f = 0; f < FIELDS.length; f++) {
                ObjectNode field = NODES.objectNode().put("type", "binary_hash").put("bits", BITS[f]);
                if (own) {
                    // The plugin's format with multi-index tables: they must come back after the restart too.
                    field.set("index_options", NODES.objectNode().put("type", "multi_index"));
                }
                props.set(FIELDS[f], field);
            }
            ObjectNode create = NODES.objectNode();
            ObjectNode settings = NODES.objectNode().put("number_of_shards", 2).put("number_of_replicas", 0)
                .put("refresh_interval", "-1").put("codec", codec);
            if (fixedBits) {
                settings.put(ItSupport.CODEC_SETTING, own);
            }
            create.set("settings", ItSupport.indexSettings(settings));
            create.set("mappings", NODES.objectNode().set("properties", props));
            String json = JSON.writeValueAsString(create);
            es.client.indices().create(c -> c.index(index).withJson(new StringReader(json)));
            Map<String, Code[]> idx = new LinkedHashMap<>();
            docs.put(index, idx);
            for (int batch = 0; batch < 4; batch++) {
                List<String> ids = new ArrayList<>();
                for (int d = 0; d < 500; d++) {
                    ids.add("r" + (batch * 500 + d));
                }
                write(index, ids, List.of());
            }
            mutate(index, 40, 40, 0);
            es.client.indices().flush(fl -> fl.index(index));
            verify(index, "before");
        }
        ObjectNode state = NODES.objectNode();
        state.put("seed", seed);
        ObjectNode indices = state.putObject("indices");
        for (Map.Entry<String, Map<String, Code[]>> e : docs.entrySet()) {
            ObjectNode idx = indices.putObject(e.getKey());
            ObjectNode ds = idx.putObject("docs");
            e.getValue().forEach((id, codes) -> {
                ArrayNode a = ds.putArray(id);
                for (Code c : codes) {
                    if (c == null) {
                        a.addNull();
                    } else {
                        a.add(c.hex());
                    }
                }
            });
            idx.set("answers", record(e.getKey()));
        }
        snapshot(new ArrayList<>(docs.keySet()), SNAPSHOT_BEFORE);
        state.put("node_version", nodeVersion());
        Files.createDirectories(stateFile.getParent());
        Files.writeString(stateFile, JSON.writeValueAsString(state));
        System.out.printf(Locale.ROOT, "[RestartIT] state for the restart written to %s%n", stateFile);
    }

    private void after() throws IOException {
        assertTrue(Files.exists(stateFile), "no " + stateFile + ": run the before phase first (integ-tests/run.sh does)");
        JsonNode state = JSON.readTree(stateFile.toFile());
        seed = state.get("seed").asLong();
        rnd = ItSupport.random(seed ^ 0x5DEECE66DL);
        System.out.printf(Locale.ROOT, "[RestartIT] after restart: seed=0x%x node=%s%n", seed, es.url);
        // The pipeline made before the restart hashes as _hash does.
        Raw indexed = es.raw("PUT", "/deep-hash-it-restart-hashed/_doc/1?pipeline=" + PIPELINE + "&refresh=true", "{\"caption\": \"hot beverage\"}");
        assertEquals(201, indexed.status(), indexed.describe());
        Raw hashed = es.raw("POST", "/_deep_hash/models/default/_hash", "{\"text\": \"hot beverage\"}");
        Raw doc = es.raw("GET", "/deep-hash-it-restart-hashed/_doc/1", (String) null);
        assertEquals(hashed.json().get("code").asText(), doc.json().path("_source").path("hash").asText(), doc.describe());
        es.raw("DELETE", "/deep-hash-it-restart-hashed", (String) null);
        es.raw("DELETE", "/_ingest/pipeline/" + PIPELINE, (String) null);
        List<String> indices = new ArrayList<>();
        state.path("indices").fieldNames().forEachRemaining(indices::add);
        System.out.printf(Locale.ROOT, "[RestartIT] indices %s, written on %s, now on %s%n", indices,
            state.path("node_version").asText("?"), nodeVersion());
        // Before anything changes them: the snapshot taken before the restart, restored beside them.
        restoreAndCompare(state, indices, SNAPSHOT_BEFORE, "the snapshot taken before the restart");
        for (String index : indices) {
            Raw health = es.raw("GET", "/_cluster/health/" + index + "?wait_for_status=green&timeout=60s", (String) null);
            assertEquals(200, health.status(), health.describe());
            assertEquals("green", health.json().path("status").asText(), index + " is not green after the restart: " + health.describe());
            Map<String, Code[]> idx = new LinkedHashMap<>();
            state.path("indices").path(index).path("docs").fields().forEachRemaining(e -> {
                Code[] codes = new Code[FIELDS.length];
                for (int f = 0; f < FIELDS.length; f++) {
                    JsonNode v = e.getValue().get(f);
                    codes[f] = v.isNull() ? null : new Code(hexToBytes(v.asText()));
                }
                idx.put(e.getKey(), codes);
            });
            docs.put(index, idx);
            long count = es.client.count(c -> c.index(index)).count();
            checks.check(count == idx.size(), () -> index + ": " + count + " docs after the restart, expected " + idx.size());
            // the recorded answers, again
            for (JsonNode a : state.path("indices").path(index).path("answers")) {
                JsonNode query = a.get("query");
                SearchResponse<ObjectNode> resp = es.client.search(SearchRequest.of(s -> s.index(index).query(queryOf(query))
                    .size(a.get("size").asInt()).source(src -> src.fetch(false))), ObjectNode.class);
                String got = answer(resp);
                checks.check(got.equals(a.get("hits").asText()), () -> index + ": after the restart " + query + " size="
                    + a.get("size") + "\n  got      " + got + "\n  recorded " + a.get("hits").asText());
            }
            verify(index, "after restart");
            mutate(index, 30, 30, 100);
            verify(index, "after restart + writes");
            es.client.indices().forcemerge(fm -> fm.index(index).maxNumSegments(1L));
            es.client.indices().refresh(r -> r.index(index));
            verify(index, "after restart + force-merge");
        }
        for (String index : indices) {
            es.raw("DELETE", "/" + index, (String) null);
        }
        es.raw("DELETE", "/_snapshot/" + REPO, (String) null);
        Files.deleteIfExists(stateFile);
    }

    // ------------------------------------------------------------------ snapshots

    /** The fs repository; its location is relative to the node's path.repo (see es-node.sh), which survives restarts. */
    static final String REPO = "deep-hash-it-restart-repo";
    static final String SNAPSHOT_BEFORE = "before-restart";
    static final String SNAPSHOT_AFTER = "after-restart";
    static final String RESTORED = "restored-";

    private String nodeVersion() throws IOException {
        // The node's own version (the integ-test distribution has no GET /: its handler is in a module that zip leaves out).
        Raw root = es.raw("GET", "/_nodes/_local?filter_path=nodes.*.version", (String) null);
        String version = root.json() == null || root.json().path("nodes").size() == 0 ? ""
            : root.json().path("nodes").elements().next().path("version").asText();
        assertFalse(version.isEmpty(), "no version from the node\n  " + root.describe());
        return version;
    }

    private void snapshot(List<String> indices, String snapshot) throws IOException {
        Raw repo = es.raw("PUT", "/_snapshot/" + REPO, "{\"type\":\"fs\",\"settings\":{\"location\":\"" + REPO + "\"}}");
        assertEquals(200, repo.status(), "creating the fs repository (is path.repo set? es-node.sh sets it)\n  " + repo.describe());
        es.raw("DELETE", "/_snapshot/" + REPO + "/" + snapshot, (String) null);
        Raw snap = es.raw("PUT", "/_snapshot/" + REPO + "/" + snapshot + "?wait_for_completion=true",
            "{\"indices\": \"" + String.join(",", indices) + "\", \"include_global_state\": false}");
        assertEquals(200, snap.status(), snap.describe());
        assertEquals("SUCCESS", snap.json().path("snapshot").path("state").asText(), snap.describe());
    }

    /**
     * Restores {@code snapshot}'s indices as restored-NAME, checks the answers recorded before the restart on
     * each, then snapshots the restored indices on this node, restores that too and checks again. Removes
     * what it made, except the snapshot taken before the restart.
     */
    private void restoreAndCompare(JsonNode state, List<String> indices, String snapshot, String what) throws IOException {
        List<String> restored = indices.stream().map(i -> RESTORED + i).collect(Collectors.toList());
        for (int round = 0; round < 2; round++) {
            String from = round == 0 ? snapshot : SNAPSHOT_AFTER;
            String source = round == 0 ? what : "a snapshot of the restored indices taken after the restart";
            for (String r : restored) {
                es.raw("DELETE", "/" + r + "?ignore_unavailable=true", (String) null);
            }
            // Round 1 restores restored-X as restored-X again; round 0 renames X to restored-X.
            String rename = round == 0 ? "\"rename_pattern\": \"(.+)\", \"rename_replacement\": \"" + RESTORED + "$1\", " : "";
            Raw restore = es.raw("POST", "/_snapshot/" + REPO + "/" + from + "/_restore?wait_for_completion=true",
                "{" + rename + "\"indices\": \"" + String.join(",", round == 0 ? indices : restored) + "\", \"include_global_state\": false}");
            assertEquals(200, restore.status(), "restoring " + source + "\n  " + restore.describe());
            for (int i = 0; i < indices.size(); i++) {
                String index = restored.get(i);
                Raw health = es.raw("GET", "/_cluster/health/" + index + "?wait_for_status=green&timeout=60s", (String) null);
                assertEquals("green", health.json().path("status").asText(), index + " is not green after restoring " + source);
                long count = es.client.count(c -> c.index(index)).count();
                int expected = state.path("indices").path(indices.get(i)).path("docs").size();
                checks.check(count == expected, () -> index + " from " + source + ": " + count + " docs, expected " + expected);
                for (JsonNode a : state.path("indices").path(indices.get(i)).path("answers")) {
                    JsonNode query = a.get("query");
                    SearchResponse<ObjectNode> resp = es.client.search(SearchRequest.of(s -> s.index(index).query(queryOf(query))
                        .size(a.get("size").asInt()).source(src -> src.fetch(false))), ObjectNode.class);
                    String got = answer(resp);
                    checks.check(got.equals(a.get("hits").asText()), () -> index + " from " + source + ": " + query + " size="
                        + a.get("size") + "\n  got      " + got + "\n  recorded " + a.get("hits").asText());
                }
            }
            if (round == 0) {
                snapshot(restored, SNAPSHOT_AFTER);
            }
        }
        for (String r : restored) {
            es.raw("DELETE", "/" + r, (String) null);
        }
        es.raw("DELETE", "/_snapshot/" + REPO + "/" + SNAPSHOT_AFTER, (String) null);
        es.raw("DELETE", "/_snapshot/" + REPO + "/" + snapshot, (String) null);
    }

    // ------------------------------------------------------------------ data

    private static byte[] hexToBytes(String hex) {
        byte[] b = new byte[hex.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    private Code[] randomCodes() {
        Code[] codes = new Code[FIELDS.length];
        for (int f = 0; f < FIELDS.length; f++) {
            if (rnd.nextDouble() >= 0.08) {
                codes[f] = Code.random(BITS[f], rnd);
            }
        }
        return codes;
    }

    /** Indexes the given ids with fresh codes, deletes the others given, refreshes. */
    private void write(String index, List<String> upserts, List<String> deletes) throws IOException {
        Map<String, Code[]> idx = docs.get(index);
        BulkRequest.Builder bulk = new BulkRequest.Builder();
        for (String id : upserts) {
            Code[] codes = randomCodes();
            idx.put(id, codes);
            ObjectNode src = NODES.objectNode();
            for (int f = 0; f < FIELDS.length; f++) {
                if (codes[f] != null) {
                    src.set(FIELDS[f], codes[f].randomForm(rnd, 0.1, 0.1));
                }
            }
            bulk.operations(op -> op.index(ix -> ix.index(index).id(id).document(src)));
        }
        for (String id : deletes) {
            idx.remove(id);
            bulk.operations(op -> op.delete(d -> d.index(index).id(id)));
        }
        BulkResponse resp = es.client.bulk(bulk.build());
        assertFalse(resp.errors(), () -> "bulk errors in " + index + ": " + resp.items().stream().filter(it -> it.error() != null)
            .limit(3).map(it -> it.id() + " " + it.error().reason()).collect(Collectors.joining("; ")));
        es.client.indices().refresh(r -> r.index(index));
    }

    private void mutate(String index, int nDeletes, int nUpdates, int nNew) throws IOException {
        List<String> ids = new ArrayList<>(docs.get(index).keySet());
        java.util.Collections.shuffle(ids, rnd);
        List<String> deletes = ids.subList(0, nDeletes);
        List<String> upserts = new ArrayList<>(ids.subList(nDeletes, nDeletes + nUpdates));
        for (int i = 0; i < nNew; i++) {
            upserts.add("n" + docs.get(index).size() + "-" + i + "-" + rnd.nextInt(1_000_000));
        }
        write(index, upserts, new ArrayList<>(deletes));
    }

    // ------------------------------------------------------------------ checks

    private static String answer(SearchResponse<ObjectNode> resp) {
        return resp.hits().hits().stream().map(h -> h.id() + ":" + h.score()).collect(Collectors.joining(","));
    }

    /** Fixed queries and the node's answers to them, to compare after the restart. */
    private ArrayNode record(String index) throws IOException {
        ArrayNode out = NODES.arrayNode();
        List<String> ids = new ArrayList<>(docs.get(index).keySet());
        for (int i = 0; i < 8; i++) {
            int f = i % FIELDS.length;
            Code[] some = docs.get(index).get(ids.get(rnd.nextInt(ids.size())));
            Code q = some[f] != null ? some[f].flip(rnd.nextInt(6), rnd) : Code.random(BITS[f], rnd);
            ObjectNode query = hamming(FIELDS[f], q.hex(), i < 4 ? null : BITS[f] * 3 / 8);
            throughTables(query);
            int size = i < 4 ? 25 : 200;
            SearchResponse<ObjectNode> resp = es.client.search(SearchRequest.of(s -> s.index(index).query(queryOf(query)).size(size)
                .source(src -> src.fetch(false))), ObjectNode.class);
            ObjectNode a = out.addObject();
            a.set("query", query);
            a.put("size", size);
            a.put("hits", answer(resp));
        }
        return out;
    }

    /** Top-k and radius answers against the oracle, and exists counts. */
    private void verify(String index, String when) throws IOException {
        Map<String, Code[]> idx = docs.get(index);
        List<String> ids = new ArrayList<>(idx.keySet());
        for (int f = 0; f < FIELDS.length; f++) {
            final int fi = f;
            long withValue = idx.values().stream().filter(c -> c[fi] != null).count();
            long exists = es.client.count(c -> c.index(index).query(x -> x.exists(e -> e.field(FIELDS[fi])))).count();
            checks.check(exists == withValue, () -> index + " " + when + ": exists " + FIELDS[fi] + " " + exists + ", expected " + withValue);
            for (int i = 0; i < 4; i++) {
                Code[] some = idx.get(ids.get(rnd.nextInt(ids.size())));
                Code q = some[f] != null ? some[f].flip(rnd.nextInt(BITS[f] / 8), rnd) : Code.random(BITS[f], rnd);
                List<Map.Entry<String, Integer>> oracle = idx.entrySet().stream().filter(e -> e.getValue()[fi] != null)
                    .map(e -> Map.entry(e.getKey(), e.getValue()[fi].distance(q)))
                    .sorted(Comparator.comparingInt(Map.Entry::getValue)).collect(Collectors.toList());
                // top 20
                ObjectNode top = hamming(FIELDS[f], q.randomForm(rnd, 0.2, 0.2), null);
                throughTables(top);
                SearchRequest topReq = SearchRequest.of(s -> s.index(index).query(queryOf(top)).size(20).source(src -> src.fetch(false))
                    .trackTotalHits(t -> t.enabled(true)));
                SearchResponse<ObjectNode> resp = es.client.search(topReq, ObjectNode.class);
                checks.check(resp.hits().total().value() == oracle.size(),
                    () -> index + " " + when + ": total " + resp.hits().total().value() + ", expected " + oracle.size() + "\n  " + topReq);
                List<Hit<ObjectNode>> hits = resp.hits().hits();
                checks.check(hits.size() == Math.min(20, oracle.size()), () -> index + " " + when + ": " + hits.size() + " hits\n  " + topReq);
                Set<String> seen = new HashSet<>();
                for (int j = 0; j < Math.min(hits.size(), oracle.size()); j++) {
                    Hit<ObjectNode> h = hits.get(j);
                    Code[] codes = idx.get(h.id());
                    int expectedD = oracle.get(j).getValue();
                    int pos = j;
                    boolean ok = codes != null && codes[f] != null && codes[f].distance(q) == expectedD && seen.add(h.id())
                        && h.score() != null && Math.abs(h.score() - expectedScore(expectedD, BITS[f], 1.0)) < 1e-5;
                    checks.check(ok, () -> index + " " + when + ": position " + pos + " id=" + h.id() + " score " + h.score()
                        + " (" + (codes == null ? "not a live doc" : codes[fi] == null ? "no value" : "d=" + codes[fi].distance(q))
                        + "), oracle d=" + expectedD + "\n  " + topReq);
                }
                // radius
                int r = BITS[f] / 4 + rnd.nextInt(BITS[f] / 8);
                Set<String> expected = oracle.stream().filter(e -> e.getValue() <= r).map(Map.Entry::getKey).collect(Collectors.toSet());
                ObjectNode radius = hamming(FIELDS[f], q.hex(), r);
                throughTables(radius);
                SearchRequest rReq = SearchRequest.of(s -> s.index(index).query(queryOf(radius)).size(expected.size() + 10)
                    .source(src -> src.fetch(false)).trackTotalHits(t -> t.enabled(true)));
                SearchResponse<ObjectNode> rResp = es.client.search(rReq, ObjectNode.class);
                Set<String> got = rResp.hits().hits().stream().map(Hit::id).collect(Collectors.toSet());
                checks.check(got.equals(expected) && rResp.hits().total().value() == expected.size(),
                    () -> index + " " + when + ": radius " + r + " got " + got.size() + " (total " + rResp.hits().total().value()
                        + "), expected " + expected.size() + "\n  " + rReq);
            }
        }
    }

    /** Forces the multi-index tables where a field has them (elsewhere it is a scan): the answers must not change. */
    private static void throughTables(ObjectNode query) {
        ((ObjectNode) query.get("hamming")).put("strategy", "index");
    }
}
