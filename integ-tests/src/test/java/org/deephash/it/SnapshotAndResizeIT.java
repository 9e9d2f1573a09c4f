package org.deephash.it;

import co.elastic.clients.elasticsearch.core.BulkRequest;
import co.elastic.clients.elasticsearch.core.BulkResponse;
import co.elastic.clients.elasticsearch.core.SearchRequest;
import co.elastic.clients.elasticsearch.core.SearchResponse;
import co.elastic.clients.elasticsearch.core.search.Hit;
import co.elastic.clients.elasticsearch.core.search.TotalHitsRelation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Code;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
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
 * Codes survive a snapshot and restore, a split and a shrink. For an index with Elasticsearch's
 * doc-values formats ({@code index.deep_hash.codec: false}) and one with the plugin's own
 * ({@code true}, skipped when the installed plugin has no such setting), both with the default
 * {@code index.codec}, 2 shards and no replicas: load random documents (some without codes), record
 * the oracle's answers for a few query codes (radius: exact id set and total; top 10: distances and
 * scores) and check the index against them; snapshot it to an fs repository, delete it, restore it
 * and check again (also the node's own top-10 answers, which must not change at all); then, with
 * writes blocked, split it to 4 shards and shrink it to 1 and check both targets, and that they keep
 * the source's {@code index.deep_hash.codec}. Indices, snapshots and the repository are removed at the end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SnapshotAndResizeIT {
    static final String PREFIX = "deep-hash-it-snap-";
    /** The fs repository; its location is relative to the node's path.repo (see es-node.sh). */
    static final String REPO = "deep-hash-it-repo";
    static final String[] FIELDS = {"h64", "h256"};
    static final int[] BITS = {64, 256};
    static final String[] TAGS = {"red", "green", "blue"};
    static final int DOCS = 2000;
    static final int TOP_K = 10;
    static final int QUERIES = 10;

    /** A recorded query and the oracle's answer to it. */
    record Recorded(int field, Code code, int radius, String tag, Set<String> inRadius, long inRadiusWithTag,
                    List<Integer> topDistances, long withValue) {}

    private long seed;
    private Es es;
    private boolean codecSettingSupported;
    private Checks checks;
    private int totalChecks;
    private final Map<String, Long> phaseMillis = new LinkedHashMap<>();
    /** Everything this test may have created, for the clean-up. */
    private final Set<String> indices = new TreeSet<>();
    private final Set<String> snapshots = new TreeSet<>();
    private long startNanos;

    // per variant
    private Random rnd;
    /** id -> codes per field (null = no value) */
    private final Map<String, Code[]> docs = new LinkedHashMap<>();
    private final Map<String, String> tags = new LinkedHashMap<>();

    @BeforeAll
    void setUp() throws IOException {
        startNanos = System.nanoTime();
        seed = ItSupport.seed();
        System.out.printf(Locale.ROOT, "[SnapshotAndResizeIT] seed=0x%x (reproduce with -Dtests.seed=0x%x) node=%s%n", seed, seed,
            ItSupport.esUrl());
        es = new Es();
        codecSettingSupported = ItSupport.codecSettingSupported(es);
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            try {
                cleanUp();
            } finally {
                es.close();
            }
        }
        System.out.printf(Locale.ROOT, "[SnapshotAndResizeIT] summary seed=0x%x checks=%d phase ms %s total=%.1fs%n", seed,
            totalChecks, phaseMillis, (System.nanoTime() - startNanos) / 1e9);
    }

    @Test
    @Order(1)
    void elasticsearchDocValuesFormats() throws IOException {
        run(false);
    }

    @Test
    @Order(2)
    void pluginDocValuesFormat() throws IOException {
        if (!codecSettingSupported) {
            String why = "the installed plugin has no [" + ItSupport.CODEC_SETTING + "] setting";
            System.out.println("[SnapshotAndResizeIT] plugin format skipped: " + why);
            Assumptions.abort(why);
        }
        run(true);
    }

    // ------------------------------------------------------------------ the scenario

    /** The scenario for one variant; the collected check failures are reported also when an assertion stops it early. */
    private void run(boolean own) throws IOException {
        String variant = own ? "fixedbits" : "default";
        checks = new Checks("SnapshotAndResizeIT " + variant);
        try {
            scenario(own, variant);
        } catch (AssertionError | IOException | RuntimeException e) {
            try {
                checks.assertNone();
            } catch (AssertionError collected) {
                e.addSuppressed(collected);
            }
            throw e;
        } finally {
            totalChecks += checks.total();
        }
        checks.assertNone();
    }

    private void scenario(boolean own, String variant) throws IOException {
        String index = PREFIX + variant;
        String snapshot = PREFIX + variant;
        String split = index + "-split4";
        String shrunk = index + "-shrink1";
        rnd = ItSupport.random(seed ^ (own ? 0x2545F4914F6CDD1DL : 0x9E3779B97F4A7C15L));
        docs.clear();
        tags.clear();
        // leftovers of an aborted run
        indices.addAll(List.of(index, split, shrunk));
        for (String i : List.of(index, split, shrunk)) {
            es.raw("DELETE", "/" + i + "?ignore_unavailable=true", (String) null);
        }
        ensureRepository();
        es.raw("DELETE", "/_snapshot/" + REPO + "/" + snapshot, (String) null);
        snapshots.add(snapshot);

        // 1. create and load
        long t0 = System.nanoTime();
        ObjectNode props = NODES.objectNode();
        for (int f = 0; f < FIELDS.length; f++) {
            ObjectNode field = NODES.objectNode().put("type", "binary_hash").put("bits", BITS[f]);
            if (own && codecSettingSupported) {
                // Multi-index tables in the plugin's format: snapshots, restores, shrink and split carry them.
                field.set("index_options", NODES.objectNode().put("type", "multi_index"));
            }
            props.set(FIELDS[f], field);
        }
        props.set("tag", NODES.objectNode().put("type", "keyword"));
        ObjectNode settings = NODES.objectNode().put("number_of_shards", 2).put("number_of_replicas", 0)
            .put("refresh_interval", "-1").put("codec", "default");
        if (codecSettingSupported) {
            settings.put(ItSupport.CODEC_SETTING, own);
        }
        ObjectNode create = NODES.objectNode();
        create.set("settings", ItSupport.indexSettings(settings));
        create.set("mappings", NODES.objectNode().set("properties", props));
        String createJson = JSON.writeValueAsString(create);
        es.client.indices().create(c -> c.index(index).withJson(new StringReader(createJson)));
        for (int from = 0; from < DOCS; from += 500) {
            load(index, from, Math.min(DOCS, from + 500)); // a refresh after each: several segments per shard
        }
        String codecValue = settingOf(index, ItSupport.CODEC_SETTING);
        System.out.printf(Locale.ROOT, "[SnapshotAndResizeIT] %s %s: %d docs (%d without h64, %d without h256), %s=%s%n", variant, index,
            docs.size(), docs.values().stream().filter(c -> c[0] == null).count(), docs.values().stream().filter(c -> c[1] == null).count(),
            ItSupport.CODEC_SETTING, codecValue);
        if (codecSettingSupported) {
            assertEquals(String.valueOf(own), codecValue, index + ": " + ItSupport.CODEC_SETTING + " as created");
        }

        // 2. the oracle's answers, and the index against them
        List<Recorded> recorded = new ArrayList<>();
        for (int i = 0; i < QUERIES; i++) {
            recorded.add(record(i % FIELDS.length));
        }
        System.out.printf(Locale.ROOT, "[SnapshotAndResizeIT] %s queries (field radius matches):%s%n", variant, recorded.stream()
            .map(a -> " " + FIELDS[a.field()] + " " + a.radius() + " " + a.inRadius().size()).collect(Collectors.joining(",")));
        List<String> nodeTopK = new ArrayList<>();
        verify(index, "loaded", recorded, nodeTopK);
        timed(variant + " load+check", t0);

        // 3. snapshot, delete, restore
        t0 = System.nanoTime();
        Raw snap = es.raw("PUT", "/_snapshot/" + REPO + "/" + snapshot + "?wait_for_completion=true",
            "{\"indices\":\"" + index + "\",\"include_global_state\":false}");
        assertEquals(200, snap.status(), snap.describe());
        JsonNode s = snap.json().path("snapshot");
        assertEquals("SUCCESS", s.path("state").asText(), "snapshot state\n  " + snap.describe());
        assertEquals(2, s.path("shards").path("successful").asInt(), "snapshot shards\n  " + snap.describe());
        assertEquals(0, s.path("shards").path("failed").asInt(), "snapshot shards\n  " + snap.describe());
        Raw deleted = es.raw("DELETE", "/" + index, (String) null);
        assertEquals(200, deleted.status(), deleted.describe());
        Raw gone = es.raw("HEAD", "/" + index, (String) null);
        assertEquals(404, gone.status(), "the index should be gone before the restore\n  " + gone.describe());
        Raw restore = es.raw("POST", "/_snapshot/" + REPO + "/" + snapshot + "/_restore?wait_for_completion=true",
            "{\"indices\":\"" + index + "\",\"include_global_state\":false}");
        assertEquals(200, restore.status(), restore.describe());
        JsonNode rs = restore.json().path("snapshot").path("shards");
        assertTrue(rs.path("total").asInt() == 2 && rs.path("failed").asInt() == 0 && rs.path("successful").asInt() == 2,
            "restore shards\n  " + restore.describe());
        waitForGreen(index);
        checks.check(Objects.equals(codecValue, settingOf(index, ItSupport.CODEC_SETTING)),
            () -> "restored " + index + ": " + ItSupport.CODEC_SETTING + " " + settingOrError(index) + ", the source had " + codecValue);
        verify(index, "restored", recorded, nodeTopK);
        timed(variant + " snapshot+restore", t0);

        // 4. split to 4 shards, shrink to 1
        t0 = System.nanoTime();
        Raw block = es.raw("PUT", "/" + index + "/_settings", "{\"index.blocks.write\":true}");
        assertEquals(200, block.status(), block.describe());
        for (String[] resize : new String[][] {{"_split", split, "4"}, {"_shrink", shrunk, "1"}}) {
            String target = resize[1];
            Raw r = es.raw("POST", "/" + index + "/" + resize[0] + "/" + target, "{\"settings\":{\"index.number_of_shards\":" + resize[2]
                + ",\"index.number_of_replicas\":0,\"index.blocks.write\":null}}");
            assertEquals(200, r.status(), r.describe());
            assertTrue(r.json().path("acknowledged").asBoolean(), r.describe());
            waitForGreen(target);
            Raw ts = es.raw("GET", "/" + target + "/_settings?flat_settings=true", (String) null);
            assertEquals(200, ts.status(), ts.describe());
            JsonNode tset = ts.json().path(target).path("settings");
            checks.check(tset.path("index.number_of_shards").asText().equals(resize[2]),
                () -> target + ": number_of_shards " + tset.path("index.number_of_shards") + ", expected " + resize[2] + "\n  " + ts.describe());
            checks.check(!tset.has("index.blocks.write") || !tset.path("index.blocks.write").asBoolean(),
                () -> target + ": index.blocks.write should not be inherited\n  " + ts.describe());
            checks.check(Objects.equals(codecValue, tset.has(ItSupport.CODEC_SETTING) ? tset.get(ItSupport.CODEC_SETTING).asText() : null),
                () -> target + ": " + ItSupport.CODEC_SETTING + " " + tset.get(ItSupport.CODEC_SETTING) + ", the source had " + codecValue
                    + "\n  " + ts.describe());
            verify(target, resize[0].substring(1), recorded, null);
        }
        timed(variant + " split+shrink", t0);

        // 5. clean up (also done, whatever happened, in tearDown)
        for (String i : List.of(index, split, shrunk)) {
            Raw r = es.raw("DELETE", "/" + i, (String) null);
            checks.check(r.status() == 200, () -> "clean-up\n  " + r.describe());
        }
        Raw r = es.raw("DELETE", "/_snapshot/" + REPO + "/" + snapshot, (String) null);
        checks.check(r.status() == 200, () -> "clean-up\n  " + r.describe());
    }

    // ------------------------------------------------------------------ data

    private void load(String index, int from, int to) throws IOException {
        BulkRequest.Builder bulk = new BulkRequest.Builder();
        for (int i = from; i < to; i++) {
            String id = "s" + i;
            Code[] codes = new Code[FIELDS.length];
            ObjectNode src = NODES.objectNode();
            String tag = TAGS[rnd.nextInt(TAGS.length)];
            src.put("tag", tag);
            boolean none = rnd.nextDouble() < 0.03; // a doc with no code at all
            for (int f = 0; f < FIELDS.length; f++) {
                if (none || rnd.nextDouble() < 0.06) {
                    continue;
                }
                // a fresh code, or a near copy of an earlier doc's (close neighbours and exact ties)
                Code[] earlier = i > from + 10 && rnd.nextDouble() < 0.3 ? docs.get("s" + (from + rnd.nextInt(i - from))) : null;
                codes[f] = earlier != null && earlier[f] != null ? earlier[f].flip(rnd.nextInt(4), rnd) : Code.random(BITS[f], rnd);
                src.set(FIELDS[f], codes[f].randomForm(rnd, 0.1, 0.1));
            }
            docs.put(id, codes);
            tags.put(id, tag);
            bulk.operations(op -> op.index(ix -> ix.index(index).id(id).document(src)));
        }
        BulkResponse resp = es.client.bulk(bulk.build());
        assertFalse(resp.errors(), () -> "bulk errors in " + index + ": " + resp.items().stream().filter(it -> it.error() != null)
            .limit(3).map(it -> it.id() + " " + it.error().reason()).collect(Collectors.joining("; ")));
        es.client.indices().refresh(r -> r.index(index));
    }

    // ------------------------------------------------------------------ oracle

    /**
     * A query code (a doc's code with a few flips, or a random one) on field {@code f}, with a radius
     * that takes in the nearest few to few hundred docs, and the oracle's answers to it.
     */
    private Recorded record(int f) {
        List<String> ids = new ArrayList<>(docs.keySet());
        Code q = null;
        if (rnd.nextBoolean()) {
            for (int tries = 0; tries < 20 && q == null; tries++) {
                Code[] some = docs.get(ids.get(rnd.nextInt(ids.size())));
                q = some[f] == null ? null : some[f].flip(rnd.nextInt(3), rnd);
            }
        }
        if (q == null) {
            q = Code.random(BITS[f], rnd);
        }
        final Code code = q;
        List<Map.Entry<String, Integer>> ranked = docs.entrySet().stream().filter(e -> e.getValue()[f] != null)
            .map(e -> Map.entry(e.getKey(), e.getValue()[f].distance(code)))
            .sorted(Comparator.comparingInt(Map.Entry::getValue)).collect(Collectors.toList());
        int radius = ranked.get(rnd.nextInt(Math.min(300, ranked.size()))).getValue();
        String tag = TAGS[rnd.nextInt(TAGS.length)];
        Set<String> inRadius = ranked.stream().filter(e -> e.getValue() <= radius).map(Map.Entry::getKey).collect(Collectors.toSet());
        long withTag = inRadius.stream().filter(id -> tags.get(id).equals(tag)).count();
        List<Integer> top = ranked.stream().limit(TOP_K).map(Map.Entry::getValue).collect(Collectors.toList());
        return new Recorded(f, code, radius, tag, inRadius, withTag, top, ranked.size());
    }

    /**
     * The index against the recorded answers: doc count, exists counts, and per query the radius (id
     * set, total, scores), the radius filtered by tag (_count) and the top 10 (distances, scores, total).
     * With {@code nodeTopK} the node's own top-10 answers are recorded on the first call and must come
     * back identical (ids, order and scores) on later ones.
     */
    private void verify(String index, String when, List<Recorded> recorded, List<String> nodeTopK) throws IOException {
        String at = index + " " + when;
        long count = es.client.count(c -> c.index(index)).count();
        checks.check(count == docs.size(), () -> at + ": " + count + " docs, expected " + docs.size());
        for (int f = 0; f < FIELDS.length; f++) {
            final int fi = f;
            long withValue = docs.values().stream().filter(c -> c[fi] != null).count();
            long exists = es.client.count(c -> c.index(index).query(x -> x.exists(e -> e.field(FIELDS[fi])))).count();
            checks.check(exists == withValue, () -> at + ": exists " + FIELDS[fi] + " " + exists + ", expected " + withValue);
        }
        for (int qi = 0; qi < recorded.size(); qi++) {
            Recorded a = recorded.get(qi);
            String field = FIELDS[a.field()];
            int bits = BITS[a.field()];
            String what = at + " " + field + " " + a.code().hex();
            // radius: exact id set and total, and the scores
            ObjectNode radius = hamming(field, a.code().randomForm(rnd, 0.2, 0.2), a.radius());
            // Through the tables where the field has them (a scan elsewhere): the answers must not change.
            ((ObjectNode) radius.get("hamming")).put("strategy", "index");
            SearchRequest rReq = SearchRequest.of(s -> s.index(index).query(queryOf(radius)).size(a.inRadius().size() + 10)
                .source(src -> src.fetch(false)).trackTotalHits(t -> t.enabled(true)));
            SearchResponse<ObjectNode> rResp = es.client.search(rReq, ObjectNode.class);
            var total = rResp.hits().total();
            checks.check(total != null && total.relation() == TotalHitsRelation.Eq && total.value() == a.inRadius().size(),
                () -> what + " r=" + a.radius() + ": total " + (total == null ? null : total.value() + " " + total.relation())
                    + ", expected " + a.inRadius().size() + "\n  " + rReq);
            Set<String> got = new HashSet<>();
            for (Hit<ObjectNode> h : rResp.hits().hits()) {
                got.add(h.id());
                Code[] codes = docs.get(h.id());
                if (codes != null && codes[a.field()] != null) {
                    double exp = expectedScore(codes[a.field()].distance(a.code()), bits, 1.0);
                    checks.check(h.score() != null && Math.abs(h.score() - exp) < 1e-5,
                        () -> what + " r=" + a.radius() + ": id=" + h.id() + " score " + h.score() + ", expected " + exp + "\n  " + rReq);
                }
            }
            Set<String> missing = new HashSet<>(a.inRadius());
            missing.removeAll(got);
            Set<String> extra = new HashSet<>(got);
            extra.removeAll(a.inRadius());
            checks.check(missing.isEmpty() && extra.isEmpty(), () -> what + " r=" + a.radius() + ": id sets differ; missing "
                + missing.size() + " " + missing.stream().sorted().limit(5).collect(Collectors.toList()) + ", unexpected " + extra.size()
                + " " + extra.stream().sorted().limit(5).collect(Collectors.toList()) + "\n  " + rReq);
            // radius AND tag, counted
            long counted = es.client.count(c -> c.index(index).query(x -> x.bool(b -> b.must(queryOf(hamming(field, a.code().hex(), a.radius())))
                .filter(t -> t.term(tt -> tt.field("tag").value(a.tag())))))).count();
            checks.check(counted == a.inRadiusWithTag(), () -> what + " r=" + a.radius() + " tag=" + a.tag() + ": _count " + counted
                + ", expected " + a.inRadiusWithTag());
            // top 10: the oracle's distances in order, the scores, every doc with a value counted
            ObjectNode top = hamming(field, a.code().randomForm(rnd, 0.2, 0.2), null);
            ((ObjectNode) top.get("hamming")).put("strategy", "index");
            SearchRequest tReq = SearchRequest.of(s -> s.index(index).query(queryOf(top)).size(TOP_K).source(src -> src.fetch(false))
                .trackTotalHits(t -> t.enabled(true)));
            SearchResponse<ObjectNode> tResp = es.client.search(tReq, ObjectNode.class);
            checks.check(tResp.hits().total() != null && tResp.hits().total().value() == a.withValue(),
                () -> what + " top: total " + tResp.hits().total().value() + ", expected " + a.withValue() + "\n  " + tReq);
            List<Hit<ObjectNode>> hits = tResp.hits().hits();
            List<Integer> distances = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            boolean scoresOk = true;
            for (Hit<ObjectNode> h : hits) {
                Code[] codes = docs.get(h.id());
                int d = codes == null || codes[a.field()] == null ? -1 : codes[a.field()].distance(a.code());
                distances.add(d);
                scoresOk &= seen.add(h.id()) && d >= 0 && h.score() != null && Math.abs(h.score() - expectedScore(d, bits, 1.0)) < 1e-5;
            }
            boolean ok = scoresOk;
            checks.check(ok && distances.equals(a.topDistances()), () -> what + " top " + TOP_K + ": distances " + distances + " (scores "
                + hits.stream().map(h -> h.id() + ":" + h.score()).collect(Collectors.joining(",")) + "), oracle " + a.topDistances()
                + "\n  " + tReq);
            if (nodeTopK != null) {
                String answer = hits.stream().map(h -> h.id() + ":" + h.score()).collect(Collectors.joining(","));
                String before = qi < nodeTopK.size() ? nodeTopK.get(qi) : null;
                if (before == null) {
                    nodeTopK.add(answer);
                }
                checks.check(before == null || before.equals(answer), () -> what + " top " + TOP_K + ": the answer changed\n  now    "
                    + answer + "\n  before " + before + "\n  " + tReq);
            }
        }
    }

    // ------------------------------------------------------------------ plumbing

    private void ensureRepository() throws IOException {
        Raw r = es.raw("PUT", "/_snapshot/" + REPO, "{\"type\":\"fs\",\"settings\":{\"location\":\"" + REPO + "\"}}");
        assertEquals(200, r.status(), "creating the fs repository (is path.repo set? es-node.sh sets it)\n  " + r.describe());
    }

    private void waitForGreen(String index) throws IOException {
        Raw h = es.raw("GET", "/_cluster/health/" + index + "?wait_for_status=green&wait_for_no_initializing_shards=true&timeout=60s",
            (String) null);
        assertEquals(200, h.status(), h.describe());
        assertEquals("green", h.json().path("status").asText(), index + " is not green\n  " + h.describe());
    }

    /** A setting of the index as GET _settings shows it (null when not set). */
    private String settingOf(String index, String key) throws IOException {
        Raw r = es.raw("GET", "/" + index + "/_settings?flat_settings=true", (String) null);
        assertEquals(200, r.status(), r.describe());
        JsonNode v = r.json().path(index).path("settings").get(key);
        return v == null ? null : v.asText();
    }

    private String settingOrError(String index) {
        try {
            return settingOf(index, ItSupport.CODEC_SETTING);
        } catch (IOException | AssertionError e) {
            return "? (" + e.getMessage() + ")";
        }
    }

    private void timed(String phase, long t0) {
        long ms = (System.nanoTime() - t0) / 1_000_000;
        phaseMillis.put(phase, ms);
        System.out.printf(Locale.ROOT, "[SnapshotAndResizeIT] %s: %d ms%n", phase, ms);
    }

    /** Removes whatever this test created; reports but does not fail on what it cannot remove. */
    private void cleanUp() throws IOException {
        for (String i : indices) {
            Raw r = es.raw("DELETE", "/" + i + "?ignore_unavailable=true", (String) null);
            if (r.status() != 200) {
                System.out.println("[SnapshotAndResizeIT] clean-up: " + r.describe());
            }
        }
        for (String s : snapshots) {
            Raw r = es.raw("DELETE", "/_snapshot/" + REPO + "/" + s, (String) null);
            if (r.status() != 200 && r.status() != 404) {
                System.out.println("[SnapshotAndResizeIT] clean-up: " + r.describe());
            }
        }
        Raw r = es.raw("DELETE", "/_snapshot/" + REPO, (String) null);
        if (r.status() != 200 && r.status() != 404) {
            System.out.println("[SnapshotAndResizeIT] clean-up: " + r.describe());
        }
    }
}
