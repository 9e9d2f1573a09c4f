package org.deephash.it;

import co.elastic.clients.elasticsearch._types.ElasticsearchException;
import co.elastic.clients.elasticsearch._types.FieldValue;
import co.elastic.clients.elasticsearch._types.aggregations.StringTermsBucket;
import co.elastic.clients.elasticsearch._types.query_dsl.Query;
import co.elastic.clients.elasticsearch.cat.plugins.PluginsRecord;
import co.elastic.clients.elasticsearch.core.BulkRequest;
import co.elastic.clients.elasticsearch.core.BulkResponse;
import co.elastic.clients.elasticsearch.core.SearchRequest;
import co.elastic.clients.elasticsearch.core.SearchResponse;
import co.elastic.clients.elasticsearch.core.bulk.BulkResponseItem;
import co.elastic.clients.elasticsearch.core.search.Hit;
import co.elastic.clients.elasticsearch.core.search.TotalHitsRelation;
import co.elastic.clients.json.JsonData;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Code;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
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
 * Answers of the {@code hamming} query on {@code binary_hash} fields, checked against a brute-force
 * oracle computed here, on a 2-shard index with several segments per shard, then again after
 * deletes/updates and after a force-merge. Deterministic given the printed seed. Subclasses choose
 * the index and its storage: {@link BinaryHashIT} (Elasticsearch's own doc-values formats) and
 * {@link BinaryHashCodecIT} (the plugin's format, {@code index.deep_hash.codec: true}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
// Any order: the tests only read the index set up once, except the mutations test, which works on a copy of it
// and of the oracle's documents; each test draws its queries from its own generator (the seed and its name).
@TestMethodOrder(MethodOrderer.Random.class)
abstract class BinaryHashSuite {
    /** The test index. */
    protected abstract String indexName();

    /** Settings of the variant, given whether the plugin knows index.deep_hash.codec (may abort the class). */
    protected abstract ObjectNode variantSettings(boolean codecSettingSupported);

    /** The mapping of a binary_hash field of the test index; a variant may add to it. */
    protected ObjectNode fieldMapping(int bits) {
        return NODES.objectNode().put("type", "binary_hash").put("bits", bits);
    }

    /** Options a variant adds to the hamming queries of the ranking tests (they must not change the answers). */
    protected void addQueryOptions(ObjectNode hamming, Random rnd) {}

    static final String[] TAGS = {"red", "green", "blue", "cyan", "magenta"};
    static final double SCORE_TOLERANCE = 1e-5;
    /** index.max_result_window: a request sees at most this many hits. */
    static final int MAX_WINDOW = 10_000;

    /** A binary_hash field of the test index. */
    record FieldSpec(int idx, String name, int bits, List<Code> centers) {}

    /** One document as the oracle knows it. */
    static final class Doc {
        final String id;
        String tag;
        int num;
        Code[] codes;      // per field; null = no value
        JsonNode[] sent;   // per field, as sent; null = omitted, NullNode = explicit null
        boolean deleted;

        Doc(String id) {
            this.id = id;
        }
    }

    /** (doc, distance) of the oracle ranking. */
    record Scored(Doc doc, int d) {}

    private String index;
    private String name;
    private long seed;
    private Random rnd;
    private Es es;
    private FieldSpec[] fields;
    private final List<Doc> docs = new ArrayList<>();
    private final Map<String, Doc> byId = new HashMap<>();
    private final Map<String, Integer> requestCounts = new TreeMap<>();
    private final Map<String, Long> testMillis = new LinkedHashMap<>();
    private int nextDocId;
    private long startNanos;
    /** The index's settings and mappings, for the mutations test's copy. */
    private String createJson;

    @BeforeAll
    void setUp() throws IOException {
        startNanos = System.nanoTime();
        index = indexName();
        name = getClass().getSimpleName();
        seed = ItSupport.seed();
        rnd = ItSupport.random(seed);
        System.out.printf(Locale.ROOT, "[%s] seed=0x%x (reproduce with -Dtests.seed=0x%x) node=%s%n",
            name, seed, seed, ItSupport.esUrl());
        es = new Es();
        ObjectNode variant = variantSettings(ItSupport.codecSettingSupported(es));

        int rBits;
        do {
            rBits = 8 * (1 + rnd.nextInt(64)); // 8..512
        } while (rBits == 64 || rBits == 256);
        int[] widths = {64, 256, rBits};
        String[] names = {"h64", "h256", "hr"};
        fields = new FieldSpec[widths.length];
        for (int i = 0; i < widths.length; i++) {
            List<Code> centers = new ArrayList<>();
            for (int c = 0; c < 24; c++) {
                centers.add(Code.random(widths[i], rnd));
            }
            fields[i] = new FieldSpec(i, names[i], widths[i], centers);
        }

        es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
        ObjectNode props = NODES.objectNode();
        for (FieldSpec f : fields) {
            props.set(f.name(), fieldMapping(f.bits()));
        }
        props.set("tag", NODES.objectNode().put("type", "keyword"));
        props.set("num", NODES.objectNode().put("type", "integer"));
        ObjectNode create = NODES.objectNode();
        ObjectNode settings = NODES.objectNode().put("number_of_shards", 2).put("number_of_replicas", 0).put("refresh_interval", "-1");
        settings.setAll(variant);
        create.set("settings", ItSupport.indexSettings(settings));
        create.set("mappings", NODES.objectNode().set("properties", props));
        createJson = JSON.writeValueAsString(create);
        es.client.indices().create(c -> c.index(index).withJson(new StringReader(createJson)));

        int nDocs = ItSupport.intSetting("tests.docs", "TESTS_DOCS", 3000);
        List<Doc> batch = new ArrayList<>();
        int refreshes = 0;
        for (int i = 0; i < nDocs; i++) {
            batch.add(newDoc());
            if (batch.size() == 500 || i == nDocs - 1) {
                indexDocs(batch);
                batch.clear();
                es.client.indices().refresh(r -> r.index(index)); // several segments per shard
                refreshes++;
            }
        }
        System.out.printf(Locale.ROOT, "[%s] index %s %s: %d docs, 2 shards, %d refreshes, bits %s, loaded in %d ms%n",
            name, index, settings, nDocs, refreshes, Arrays.stream(fields).map(f -> f.name() + "=" + f.bits()).collect(Collectors.toList()),
            (System.nanoTime() - startNanos) / 1_000_000);
    }

    /** Each test's queries from the seed and the test's name, whatever ran before it. */
    @BeforeEach
    void perTestRandom(TestInfo test) {
        rnd = ItSupport.random(seed ^ test.getDisplayName().hashCode());
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            es.close();
        }
        Map<String, Integer> byKind = new TreeMap<>();
        requestCounts.forEach((k, v) -> byKind.merge(k.split("_")[0], v, Integer::sum));
        if (name == null || fields == null) {
            return; // skipped before the index existed
        }
        System.out.printf(Locale.ROOT, "[%s] summary seed=0x%x bits=%s docs=%d requests=%d %s%n",
            name, seed, fields == null ? "?" : Arrays.stream(fields).map(f -> String.valueOf(f.bits())).collect(Collectors.joining("/")),
            docs.size(), requestCounts.values().stream().mapToInt(Integer::intValue).sum(), byKind);
        System.out.printf(Locale.ROOT, "[%s] per-test ms %s, total %.1fs%n", name, testMillis, (System.nanoTime() - startNanos) / 1e9);
    }

    // ------------------------------------------------------------------ data

    private Doc newDoc() {
        Doc doc = new Doc("d" + (nextDocId++));
        fillDoc(doc);
        docs.add(doc);
        byId.put(doc.id, doc);
        return doc;
    }

    private void fillDoc(Doc doc) {
        doc.tag = TAGS[Math.min(TAGS.length - 1, (int) Math.floor(Math.abs(rnd.nextGaussian()) * 1.6))];
        doc.num = rnd.nextInt(100);
        doc.codes = new Code[fields.length];
        doc.sent = new JsonNode[fields.length];
        for (FieldSpec f : fields) {
            double p = rnd.nextDouble();
            if (p < 0.07) {
                continue; // field omitted
            }
            if (p < 0.10) {
                doc.sent[f.idx()] = NullNode.getInstance(); // explicit null = missing
                continue;
            }
            Code code = randomDocCode(f);
            doc.codes[f.idx()] = code;
            doc.sent[f.idx()] = code.randomForm(rnd, 0.12, 0.12);
        }
    }

    private Code randomDocCode(FieldSpec f) {
        double p = rnd.nextDouble();
        if (p < 0.40) {
            return Code.random(f.bits(), rnd);
        }
        if (p < 0.85 || docs.isEmpty()) {
            Code center = f.centers().get(rnd.nextInt(f.centers().size()));
            return center.flip(rnd.nextInt(f.bits() / 8 + 1), rnd);
        }
        // an exact copy of an earlier doc's code: ties
        for (int tries = 0; tries < 20; tries++) {
            Doc other = docs.get(rnd.nextInt(docs.size()));
            if (other.codes[f.idx()] != null) {
                return other.codes[f.idx()];
            }
        }
        return Code.random(f.bits(), rnd);
    }

    private ObjectNode source(Doc doc) {
        ObjectNode src = NODES.objectNode();
        src.put("tag", doc.tag);
        src.put("num", doc.num);
        for (FieldSpec f : fields) {
            if (doc.sent[f.idx()] != null) {
                src.set(f.name(), doc.sent[f.idx()]);
            }
        }
        return src;
    }

    private void indexDocs(List<Doc> batch) throws IOException {
        BulkRequest.Builder bulk = new BulkRequest.Builder();
        for (Doc doc : batch) {
            ObjectNode src = source(doc);
            bulk.operations(op -> op.index(ix -> ix.index(index).id(doc.id).document(src)));
        }
        BulkResponse resp = es.client.bulk(bulk.build());
        count("bulk");
        if (resp.errors()) {
            List<String> errs = new ArrayList<>();
            for (BulkResponseItem item : resp.items()) {
                if (item.error() != null && errs.size() < 5) {
                    errs.add(item.id() + " " + item.status() + " " + item.error().type() + ": " + item.error().reason()
                        + " source=" + abbreviateJson(source(byId.get(item.id()))));
                }
            }
            throw new AssertionError("bulk indexing had errors, e.g.:\n" + String.join("\n", errs));
        }
    }

    private static String abbreviateJson(JsonNode n) {
        return ItSupport.abbreviate(n.toString(), 400);
    }

    private void count(String what) {
        requestCounts.merge(what, 1, Integer::sum);
    }

    /** A query code: random, a doc's code with a few flips, or a cluster center with a few flips. */
    private Code queryCode(FieldSpec f) {
        int kind = rnd.nextInt(3);
        if (kind == 0) {
            return Code.random(f.bits(), rnd);
        }
        if (kind == 1) {
            for (int tries = 0; tries < 50; tries++) {
                Doc d = docs.get(rnd.nextInt(docs.size()));
                if (!d.deleted && d.codes[f.idx()] != null) {
                    return d.codes[f.idx()].flip(rnd.nextInt(4), rnd);
                }
            }
        }
        return f.centers().get(rnd.nextInt(f.centers().size())).flip(rnd.nextInt(f.bits() / 16 + 2), rnd);
    }

    /** The hamming query JSON with the code in a random accepted form. */
    private ObjectNode hammingJson(FieldSpec f, Code q, Integer maxDistance) {
        ObjectNode json = hamming(f.name(), q.randomForm(rnd, 0.15, 0.15), maxDistance);
        addQueryOptions((ObjectNode) json.get("hamming"), rnd);
        return json;
    }

    // ------------------------------------------------------------------ oracle

    private List<Scored> oracle(FieldSpec f, Code q, Predicate<Doc> filter) {
        List<Scored> out = new ArrayList<>();
        for (Doc d : docs) {
            Code c = d.codes[f.idx()];
            if (!d.deleted && c != null && filter.test(d)) {
                out.add(new Scored(d, c.distance(q)));
            }
        }
        out.sort(Comparator.comparingInt(Scored::d));
        return out;
    }

    private static Predicate<Doc> all() {
        return d -> true;
    }

    private int[] radii(int bits) {
        Set<Integer> r = new java.util.TreeSet<>(List.of(0, 1, bits / 16, bits / 8, bits / 4, bits * 3 / 8, bits / 2, bits));
        return r.stream().mapToInt(Integer::intValue).toArray();
    }

    // ------------------------------------------------------------------ search plumbing

    private SearchResponse<ObjectNode> search(SearchRequest request, String what) throws IOException {
        count(what);
        try {
            return es.client.search(request, ObjectNode.class);
        } catch (ElasticsearchException e) {
            throw new AssertionError(what + ": the request failed: " + e.response() + "\n  " + request, e);
        }
    }

    private SearchRequest rankedRequest(Query query, int from, int size) {
        return SearchRequest.of(s -> s.index(index).query(query).from(from).size(size).trackTotalHits(t -> t.enabled(true))
            .source(src -> src.fetch(false)));
    }

    /**
     * Hits of a ranked request must follow the oracle ranking from position {@code from}: hit j has the
     * distance of oracle[from + j] (so the same ids, except that docs tied at a score may swap), the
     * expected score, no duplicates, and only docs the oracle lists.
     */
    private void checkRanked(Checks checks, String what, SearchRequest req, SearchResponse<ObjectNode> resp,
                             FieldSpec f, Code q, List<Scored> oracle, Predicate<Doc> filter, int from, int size, double boost) {
        List<Hit<ObjectNode>> hits = resp.hits().hits();
        int expectedCount = Math.max(0, Math.min(size, oracle.size() - from));
        if (!checks.check(hits.size() == expectedCount,
            () -> what + ": expected " + expectedCount + " hits, got " + hits.size() + "\n  " + req)) {
            return;
        }
        Set<String> seen = new HashSet<>();
        for (int j = 0; j < hits.size(); j++) {
            Hit<ObjectNode> hit = hits.get(j);
            Doc doc = byId.get(hit.id());
            int pos = from + j;
            int expectedD = oracle.get(pos).d();
            final int jj = j;
            if (!checks.check(doc != null && !doc.deleted && doc.codes[f.idx()] != null && filter.test(doc),
                () -> what + ": hit " + jj + " id=" + hit.id() + " should not match (deleted, no value or filtered out)\n  " + req)) {
                continue;
            }
            int d = doc.codes[f.idx()].distance(q);
            checks.check(seen.add(hit.id()), () -> what + ": duplicate hit " + hit.id() + "\n  " + req);
            checks.check(d == expectedD, () -> what + ": position " + pos + " id=" + hit.id() + " has distance " + d
                + " but the oracle's distance at that position is " + expectedD + " (score " + hit.score() + ")\n  " + req);
            double exp = expectedScore(expectedD, f.bits(), boost);
            checks.check(hit.score() != null && Math.abs(hit.score() - exp) <= SCORE_TOLERANCE * Math.max(1, boost),
                () -> what + ": position " + pos + " id=" + hit.id() + " d=" + d + " score " + hit.score() + " expected " + exp
                    + "\n  " + req);
        }
    }

    private void checkTotal(Checks checks, String what, SearchRequest req, SearchResponse<ObjectNode> resp, long expected) {
        var total = resp.hits().total();
        checks.check(total != null && total.relation() == TotalHitsRelation.Eq && total.value() == expected,
            () -> what + ": total " + (total == null ? null : total.value() + " " + total.relation()) + ", expected " + expected
                + "\n  " + req);
    }

    private void checkRadius(Checks checks, String what, FieldSpec f, Code q, int r, Predicate<Doc> filter, Query query,
                             double boost) throws IOException {
        List<Scored> oracle = oracle(f, q, filter);
        Set<String> expected = oracle.stream().filter(s -> s.d() <= r).map(s -> s.doc().id).collect(Collectors.toSet());
        SearchRequest req = SearchRequest.of(s -> s.index(index).query(query).size(Math.min(MAX_WINDOW, expected.size() + 10))
            .trackTotalHits(t -> t.enabled(true)).source(src -> src.fetch(false)));
        SearchResponse<ObjectNode> resp = search(req, what.startsWith("bool ") ? "bool_radius" : what.split(" ")[0]);
        checkTotal(checks, what + " r=" + r, req, resp, expected.size());
        Set<String> got = new HashSet<>();
        for (Hit<ObjectNode> hit : resp.hits().hits()) {
            got.add(hit.id());
            Doc doc = byId.get(hit.id());
            if (doc != null && doc.codes[f.idx()] != null) {
                int d = doc.codes[f.idx()].distance(q);
                double exp = expectedScore(d, f.bits(), boost);
                checks.check(hit.score() != null && Math.abs(hit.score() - exp) <= SCORE_TOLERANCE * Math.max(1, boost),
                    () -> what + " r=" + r + ": id=" + hit.id() + " d=" + d + " score " + hit.score() + " expected " + exp + "\n  " + req);
            }
        }
        if (expected.size() > MAX_WINDOW) {
            // more matches than one request can return: the best MAX_WINDOW of them, all inside the radius
            checks.check(got.size() == MAX_WINDOW && expected.containsAll(got), () -> what + " r=" + r + ": expected "
                + MAX_WINDOW + " hits, all within the radius, got " + got.size() + "\n  " + req);
        } else if (!got.equals(expected)) {
            Set<String> missing = new HashSet<>(expected);
            missing.removeAll(got);
            Set<String> extra = new HashSet<>(got);
            extra.removeAll(expected);
            checks.check(false, () -> what + " r=" + r + ": id sets differ; missing " + missing.size() + " e.g. "
                + describeIds(missing, f, q) + ", unexpected " + extra.size() + " e.g. " + describeIds(extra, f, q) + "\n  " + req);
        } else {
            checks.check(true, () -> "");
        }
    }

    private String describeIds(Set<String> ids, FieldSpec f, Code q) {
        return ids.stream().sorted().limit(5).map(id -> {
            Doc d = byId.get(id);
            if (d == null) {
                return id + "(unknown)";
            }
            Code c = d.codes[f.idx()];
            return id + "(d=" + (c == null ? "none" : c.distance(q)) + (d.deleted ? ",deleted" : "") + ")";
        }).collect(Collectors.joining(", ", "[", "]"));
    }

    private void timed(String name, long t0) {
        testMillis.put(name, (System.nanoTime() - t0) / 1_000_000);
    }

    // ------------------------------------------------------------------ tests

    @Test
    void pluginIsInstalledAndFieldIsMapped() throws IOException {
        List<PluginsRecord> plugins = es.client.cat().plugins().valueBody();
        count("cat_plugins");
        assertTrue(plugins.stream().anyMatch(p -> "deep-hash".equals(p.component())),
            "deep-hash not in _cat/plugins: " + plugins.stream().map(PluginsRecord::component).collect(Collectors.toList()));
        Raw mapping = es.raw("GET", "/" + index + "/_mapping", (String) null);
        assertEquals(200, mapping.status(), mapping.describe());
        JsonNode props = mapping.json().path(index).path("mappings").path("properties");
        for (FieldSpec f : fields) {
            assertEquals("binary_hash", props.path(f.name()).path("type").asText(), mapping.describe());
            assertEquals(f.bits(), props.path(f.name()).path("bits").asInt(), mapping.describe());
        }
        long live = docs.stream().filter(d -> !d.deleted).count();
        assertEquals(live, es.client.count(c -> c.index(index)).count());
    }

    @Test
    void topKMatchesOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("topK");
        runTopK(checks, 16, "topk");
        checks.assertNone();
        timed("topK", t0);
    }

    private void runTopK(Checks checks, int queriesPerField, String label) throws IOException {
        int[] sizes = {10, 20, 1, 50};
        for (FieldSpec f : fields) {
            for (int i = 0; i < queriesPerField; i++) {
                Code q = queryCode(f);
                List<Scored> oracle = oracle(f, q, all());
                Query query = queryOf(hammingJson(f, q, null));
                int size = sizes[i % sizes.length];
                SearchRequest req = rankedRequest(query, 0, size);
                SearchResponse<ObjectNode> resp = search(req, label);
                String what = label + " " + f.name() + " size=" + size;
                checkRanked(checks, what, req, resp, f, q, oracle, all(), 0, size, 1.0);
                // without max_distance every doc with a value matches
                checkTotal(checks, what, req, resp, oracle.size());
            }
        }
    }

    /**
     * With {@code k}, each shard's k nearest match: the hits are the oracle's ranking for any size up to k,
     * and the total counts at most k per shard.
     */
    @Test
    void topKWithKMatchesOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("topKWithK");
        int[] ks = {1, 10, 37, 200};
        for (FieldSpec f : fields) {
            for (int i = 0; i < 8; i++) {
                Code q = queryCode(f);
                int k = ks[i % ks.length];
                int[] rs = radii(f.bits());
                Integer radius = i % 3 == 2 ? rs[Math.min(3, rs.length - 1)] : null;
                List<Scored> oracle = radius == null ? oracle(f, q, all()) : oracle(f, q, all()).stream().filter(s -> s.d() <= radius).toList();
                ObjectNode json = hammingJson(f, q, radius);
                ((ObjectNode) json.get("hamming")).put("k", k);
                int size = Math.min(k, 1 + rnd.nextInt(20));
                SearchRequest req = rankedRequest(queryOf(json), 0, size);
                SearchResponse<ObjectNode> resp = search(req, "topk_k");
                String what = "topk k=" + k + (radius == null ? "" : " max_distance=" + radius) + " " + f.name() + " size=" + size;
                checkRanked(checks, what, req, resp, f, q, oracle, all(), 0, size, 1.0);
                long total = resp.hits().total().value();
                checks.check(total >= Math.min(k, oracle.size()) && total <= Math.min(2L * k, oracle.size()),
                    () -> what + ": total " + total + " outside [min(k, matches), min(2k, matches)] with " + oracle.size() + " matches");
            }
        }
        checks.assertNone();
        timed("topKWithK", t0);
    }

    @Test
    void radiusMatchesOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("radius");
        runRadius(checks, 8, "radius");
        checks.assertNone();
        timed("radius", t0);
    }

    private void runRadius(Checks checks, int queriesPerField, String label) throws IOException {
        for (FieldSpec f : fields) {
            for (int i = 0; i < queriesPerField; i++) {
                Code q = queryCode(f);
                for (int r : radii(f.bits())) {
                    Query query = queryOf(hammingJson(f, q, r));
                    checkRadius(checks, label + " " + f.name(), f, q, r, all(), query, 1.0);
                }
            }
        }
    }

    @Test
    void boolFilterMatchesFilteredOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("bool");
        for (FieldSpec f : fields) {
            for (int i = 0; i < 6; i++) {
                Code q = queryCode(f);
                String tag = TAGS[rnd.nextInt(3)];
                int below = 30 + rnd.nextInt(60);
                Predicate<Doc> filter = d -> d.tag.equals(tag) && d.num < below;
                Query termQ = Query.of(x -> x.term(t -> t.field("tag").value(FieldValue.of(tag))));
                Query rangeQ = Query.of(x -> x.range(rg -> rg.number(n -> n.field("num").lt((double) below))));
                // ranked
                Query ranked = Query.of(x -> x.bool(b -> b.filter(termQ, rangeQ).must(queryOf(hammingJson(f, q, null)))));
                List<Scored> oracle = oracle(f, q, filter);
                int size = i % 2 == 0 ? 10 : 20;
                SearchRequest req = rankedRequest(ranked, 0, size);
                SearchResponse<ObjectNode> resp = search(req, "bool_topk");
                String what = "bool topk " + f.name() + " tag=" + tag + " num<" + below;
                checkRanked(checks, what, req, resp, f, q, oracle, filter, 0, size, 1.0);
                checkTotal(checks, what, req, resp, oracle.size());
                // radius
                int[] rs = radii(f.bits());
                int r = rs[1 + rnd.nextInt(rs.length - 1)];
                Query radius = Query.of(x -> x.bool(b -> b.filter(termQ, rangeQ).must(queryOf(hammingJson(f, q, r)))));
                checkRadius(checks, "bool radius " + f.name() + " tag=" + tag + " num<" + below, f, q, r, filter, radius, 1.0);
            }
        }
        checks.assertNone();
        timed("bool", t0);
    }

    @Test
    void pagingFollowsOracleRanking() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("paging");
        runPaging(checks, 4, "paging");
        checks.assertNone();
        timed("paging", t0);
    }

    private void runPaging(Checks checks, int queriesPerField, String label) throws IOException {
        int[][] pages = {{0, 10}, {10, 10}, {20, 10}, {30, 15}, {45, 5}};
        for (FieldSpec f : fields) {
            for (int i = 0; i < queriesPerField; i++) {
                Code q = queryCode(f);
                List<Scored> oracle = oracle(f, q, all());
                ObjectNode qJson = hammingJson(f, q, null);
                Set<String> seen = new HashSet<>();
                for (int[] page : pages) {
                    SearchRequest req = rankedRequest(queryOf(qJson), page[0], page[1]);
                    SearchResponse<ObjectNode> resp = search(req, label);
                    String what = label + " " + f.name() + " from=" + page[0] + " size=" + page[1];
                    checkRanked(checks, what, req, resp, f, q, oracle, all(), page[0], page[1], 1.0);
                    for (Hit<ObjectNode> hit : resp.hits().hits()) {
                        checks.check(seen.add(hit.id()), () -> what + ": id " + hit.id() + " already on an earlier page\n  " + req);
                    }
                }
                // a deep page straddling the end of the matches
                int from = Math.min(Math.max(0, oracle.size() - 7), MAX_WINDOW - 10);
                SearchRequest req = rankedRequest(queryOf(qJson), from, 10);
                checkRanked(checks, label + " " + f.name() + " tail from=" + from, req, search(req, label), f, q, oracle, all(),
                    from, 10, 1.0);
            }
        }
    }

    @Test
    void existsCountsDocsWithAValue() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("exists");
        runExists(checks);
        checks.assertNone();
        timed("exists", t0);
    }

    private void runExists(Checks checks) throws IOException {
        long live = docs.stream().filter(d -> !d.deleted).count();
        for (FieldSpec f : fields) {
            long withValue = docs.stream().filter(d -> !d.deleted && d.codes[f.idx()] != null).count();
            long got = es.client.count(c -> c.index(index).query(x -> x.exists(e -> e.field(f.name())))).count();
            count("count");
            checks.check(got == withValue, () -> "exists " + f.name() + ": count " + got + ", expected " + withValue);
            long gotNot = es.client.count(c -> c.index(index)
                .query(x -> x.bool(b -> b.mustNot(m -> m.exists(e -> e.field(f.name())))))).count();
            count("count");
            checks.check(gotNot == live - withValue,
                () -> "must_not exists " + f.name() + ": count " + gotNot + ", expected " + (live - withValue));
        }
    }

    @Test
    void fieldsAndDocValueFieldsReturnLowerCaseHex() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("fields");
        runFields(checks, 150);
        checks.assertNone();
        timed("fields", t0);
    }

    private void runFields(Checks checks, int sampleSize) throws IOException {
        List<Doc> live = docs.stream().filter(d -> !d.deleted).collect(Collectors.toList());
        List<String> ids = new ArrayList<>();
        // make sure every form (array, upper-case hex, null, omitted) is in the sample
        for (FieldSpec f : fields) {
            for (Doc d : live) {
                JsonNode s = d.sent[f.idx()];
                if (s != null && s.isArray()) {
                    ids.add(d.id);
                    break;
                }
            }
            for (Doc d : live) {
                JsonNode s = d.sent[f.idx()];
                if (s != null && s.isTextual() && !s.asText().equals(s.asText().toLowerCase(Locale.ROOT))) {
                    ids.add(d.id);
                    break;
                }
            }
            for (Doc d : live) {
                if (d.sent[f.idx()] != null && d.sent[f.idx()].isNull()) {
                    ids.add(d.id);
                    break;
                }
            }
            for (Doc d : live) {
                if (d.sent[f.idx()] == null) {
                    ids.add(d.id);
                    break;
                }
            }
        }
        while (ids.size() < Math.min(sampleSize, live.size())) {
            ids.add(live.get(rnd.nextInt(live.size())).id);
        }
        List<String> uniqueIds = ids.stream().distinct().collect(Collectors.toList());
        List<String> names = Arrays.stream(fields).map(FieldSpec::name).collect(Collectors.toList());
        for (String mode : List.of("fields", "docvalue_fields")) {
            SearchRequest req = SearchRequest.of(s -> {
                s.index(index).size(uniqueIds.size()).query(x -> x.ids(i -> i.values(uniqueIds)));
                for (String n : names) {
                    if (mode.equals("fields")) {
                        s.fields(ff -> ff.field(n));
                    } else {
                        s.docvalueFields(ff -> ff.field(n));
                    }
                }
                return s;
            });
            SearchResponse<ObjectNode> resp = search(req, mode);
            checks.check(resp.hits().hits().size() == uniqueIds.size(),
                () -> mode + ": expected " + uniqueIds.size() + " hits, got " + resp.hits().hits().size() + "\n  " + req);
            for (Hit<ObjectNode> hit : resp.hits().hits()) {
                Doc doc = byId.get(hit.id());
                Map<String, JsonData> got = hit.fields();
                for (FieldSpec f : fields) {
                    Code code = doc.codes[f.idx()];
                    JsonData value = got.get(f.name());
                    if (code == null) {
                        checks.check(value == null, () -> mode + " " + f.name() + " id=" + hit.id() + ": no value was indexed but got "
                            + value + "\n  " + req);
                    } else {
                        String expected = "[\"" + code.hex() + "\"]";
                        String actual = value == null ? null : value.toJson().toString();
                        checks.check(expected.equals(actual), () -> mode + " " + f.name() + " id=" + hit.id() + ": got " + actual
                            + ", expected " + expected + " (sent " + doc.sent[f.idx()] + ")\n  " + req);
                    }
                    if (mode.equals("fields")) {
                        // _source is kept as sent (array stays an array, upper case stays upper case)
                        JsonNode src = hit.source() == null ? null : hit.source().get(f.name());
                        JsonNode sent = doc.sent[f.idx()];
                        checks.check(sent == null ? src == null : sent.equals(src),
                            () -> "_source." + f.name() + " id=" + hit.id() + ": got " + src + ", sent " + sent);
                    }
                }
            }
        }
    }

    @Test
    void termsAggregationOverRadiusMatchesOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("aggs");
        runAggs(checks, 4, "aggs");
        checks.assertNone();
        timed("aggs", t0);
    }

    private void runAggs(Checks checks, int queriesPerField, String label) throws IOException {
        for (FieldSpec f : fields) {
            for (int i = 0; i < queriesPerField; i++) {
                Code q = queryCode(f);
                int[] rs = radii(f.bits());
                int r = rs[1 + rnd.nextInt(rs.length - 1)];
                Map<String, Long> expected = new TreeMap<>();
                long expectedTotal = 0;
                for (Scored s : oracle(f, q, all())) {
                    if (s.d() <= r) {
                        expected.merge(s.doc().tag, 1L, Long::sum);
                        expectedTotal++;
                    }
                }
                Query query = queryOf(hammingJson(f, q, r));
                SearchRequest req = SearchRequest.of(s -> s.index(index).size(0).query(query).trackTotalHits(t -> t.enabled(true))
                    .aggregations("tags", a -> a.terms(t -> t.field("tag").size(10))));
                SearchResponse<ObjectNode> resp = search(req, label);
                String what = label + " " + f.name() + " r=" + r;
                checkTotal(checks, what, req, resp, expectedTotal);
                Map<String, Long> got = new TreeMap<>();
                for (StringTermsBucket b : resp.aggregations().get("tags").sterms().buckets().array()) {
                    got.put(b.key().stringValue(), b.docCount());
                }
                checks.check(got.equals(expected), () -> what + ": buckets " + got + ", expected " + expected + "\n  " + req);
            }
        }
    }

    @Test
    void boostNameAndCodeFormsAgree() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("forms");
        for (FieldSpec f : fields) {
            for (int i = 0; i < 3; i++) {
                Code q = queryCode(f);
                List<Scored> oracle = oracle(f, q, all());
                // boost and _name
                ObjectNode json = hamming(f.name(), q.hex(), null);
                ((ObjectNode) json.get("hamming")).put("boost", 2.5).put("_name", "hq");
                SearchRequest req = rankedRequest(queryOf(json), 0, 10);
                SearchResponse<ObjectNode> resp = search(req, "boost_name");
                checkRanked(checks, "boost " + f.name(), req, resp, f, q, oracle, all(), 0, 10, 2.5);
                for (Hit<ObjectNode> hit : resp.hits().hits()) {
                    checks.check(hit.matchedQueries() != null && hit.matchedQueries().contains("hq"),
                        () -> "_name " + f.name() + " id=" + hit.id() + ": matched_queries " + hit.matchedQueries() + "\n  " + req);
                }
                // the three code forms give the same answer
                List<String> answers = new ArrayList<>();
                for (JsonNode form : List.of(NODES.textNode(q.hex()), NODES.textNode(q.hex().toUpperCase(Locale.ROOT)), q.bitArray())) {
                    int r = f.bits() / 4;
                    SearchRequest rq = SearchRequest.of(s -> s.index(index).query(queryOf(hamming(f.name(), form, r))).size(10_000)
                        .trackTotalHits(t -> t.enabled(true)).source(src -> src.fetch(false)));
                    SearchResponse<ObjectNode> rs = search(rq, "forms");
                    answers.add(rs.hits().hits().stream().map(h -> h.id() + ":" + h.score()).sorted().collect(Collectors.joining(",")));
                }
                checks.check(answers.get(0).equals(answers.get(1)) && answers.get(0).equals(answers.get(2)),
                    () -> "code forms " + f.name() + " code=" + q.hex() + ": lower hex, upper hex and 0/1 array disagree");
            }
        }
        // bit order: the array [1,0,0,...] is hex "80..." (first element = most significant bit of the first digit)
        FieldSpec f = fields[0];
        Code msb = new Code(new byte[f.bits() / 8]);
        msb.bytes[0] = (byte) 0x80;
        SearchRequest a = rankedRequest(queryOf(hamming(f.name(), msb.bitArray(), null)), 0, 20);
        SearchRequest h = rankedRequest(queryOf(hamming(f.name(), "80" + "0".repeat(f.bits() / 4 - 2), null)), 0, 20);
        String byArray = search(a, "forms").hits().hits().stream().map(x -> x.id() + ":" + x.score()).collect(Collectors.joining(","));
        String byHex = search(h, "forms").hits().hits().stream().map(x -> x.id() + ":" + x.score()).collect(Collectors.joining(","));
        checks.check(byArray.equals(byHex), () -> "bit order: array [1,0,...] and hex 80.. disagree:\n  " + byArray + "\n  " + byHex);
        checkRanked(checks, "bit order", h, search(h, "forms"), f, msb, oracle(f, msb, all()), all(), 0, 20, 1.0);
        checks.assertNone();
        timed("forms", t0);
    }

    @Test
    void compositionsMatchOracle() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("compositions");
        runCompositions(checks, 3, "compose");
        checks.assertNone();
        timed("compositions", t0);
    }

    /**
     * The query in other contexts: must_not (docs outside the radius or without a value), filter
     * context under constant_score, min_score, a should of two hamming queries on different fields
     * (union, summed scores), and the _count API.
     */
    private void runCompositions(Checks checks, int queriesPerField, String label) throws IOException {
        List<Doc> live = docs.stream().filter(d -> !d.deleted).collect(Collectors.toList());
        for (FieldSpec f : fields) {
            for (int i = 0; i < queriesPerField; i++) {
                Code q = queryCode(f);
                int[] rs = radii(f.bits());
                int r = rs[1 + rnd.nextInt(rs.length - 2)];
                Map<String, Integer> dist = new HashMap<>();
                for (Doc d : live) {
                    if (d.codes[f.idx()] != null) {
                        dist.put(d.id, d.codes[f.idx()].distance(q));
                    }
                }
                Set<String> inside = dist.entrySet().stream().filter(e -> e.getValue() <= r).map(Map.Entry::getKey)
                    .collect(Collectors.toSet());
                // must_not
                Set<String> outside = live.stream().map(d -> d.id).filter(id -> !inside.contains(id)).collect(Collectors.toSet());
                Query mustNot = Query.of(x -> x.bool(b -> b.mustNot(queryOf(hammingJson(f, q, r)))));
                checkIdSet(checks, label + " must_not " + f.name() + " r=" + r, mustNot, null, outside, id -> Double.NaN);
                // constant_score: filter context, every score 1
                Query constant = Query.of(x -> x.constantScore(c -> c.filter(queryOf(hammingJson(f, q, r)))));
                checkIdSet(checks, label + " constant_score " + f.name() + " r=" + r, constant, null, inside, id -> 1.0);
                // min_score halfway between two distances selects d <= r
                double minScore = 1.0 - (r + 0.5) / f.bits();
                Query plain = queryOf(hammingJson(f, q, null));
                checkIdSet(checks, label + " min_score " + f.name() + " r=" + r, plain, minScore, inside,
                    id -> expectedScore(dist.get(id), f.bits(), 1.0));
                // _count
                long counted = es.client.count(c -> c.index(index).query(queryOf(hammingJson(f, q, r)))).count();
                count(label);
                checks.check(counted == inside.size(), () -> label + " _count " + f.name() + " r=" + r + ": " + counted
                    + ", expected " + inside.size());
                // should over two fields: union, scores add up
                FieldSpec g = fields[(f.idx() + 1) % fields.length];
                Code q2 = queryCode(g);
                int r2 = g.bits() * 3 / 8;
                Map<String, Double> expectedScores = new HashMap<>();
                for (Doc d : live) {
                    double sc = 0;
                    boolean match = false;
                    if (d.codes[f.idx()] != null && d.codes[f.idx()].distance(q) <= r) {
                        sc += expectedScore(d.codes[f.idx()].distance(q), f.bits(), 1.0);
                        match = true;
                    }
                    if (d.codes[g.idx()] != null && d.codes[g.idx()].distance(q2) <= r2) {
                        sc += expectedScore(d.codes[g.idx()].distance(q2), g.bits(), 1.0);
                        match = true;
                    }
                    if (match) {
                        expectedScores.put(d.id, sc);
                    }
                }
                Query should = Query.of(x -> x.bool(b -> b.should(queryOf(hammingJson(f, q, r)), queryOf(hammingJson(g, q2, r2)))));
                checkIdSet(checks, label + " should " + f.name() + "+" + g.name(), should, null, expectedScores.keySet(),
                    expectedScores::get);
            }
        }
    }

    /** The query matches exactly {@code expected}, each hit with the expected score (NaN: any). */
    private void checkIdSet(Checks checks, String what, Query query, Double minScore, Set<String> expected,
                            java.util.function.ToDoubleFunction<String> score) throws IOException {
        SearchRequest req = SearchRequest.of(s -> {
            s.index(index).query(query).size(Math.min(MAX_WINDOW, expected.size() + 10)).trackTotalHits(t -> t.enabled(true))
                .source(src -> src.fetch(false));
            if (minScore != null) {
                s.minScore(minScore);
            }
            return s;
        });
        SearchResponse<ObjectNode> resp = search(req, what.split(" ")[0] + "_" + what.split(" ")[1]);
        checkTotal(checks, what, req, resp, expected.size());
        Set<String> got = new HashSet<>();
        for (Hit<ObjectNode> hit : resp.hits().hits()) {
            got.add(hit.id());
            if (expected.contains(hit.id())) {
                double exp = score.applyAsDouble(hit.id());
                checks.check(Double.isNaN(exp) || (hit.score() != null && Math.abs(hit.score() - exp) <= 2 * SCORE_TOLERANCE),
                    () -> what + ": id=" + hit.id() + " score " + hit.score() + " expected " + exp + "\n  " + req);
            }
        }
        Set<String> missing = new HashSet<>(expected);
        missing.removeAll(got);
        Set<String> extra = new HashSet<>(got);
        extra.removeAll(expected);
        if (expected.size() > MAX_WINDOW) {
            missing.clear(); // only MAX_WINDOW of them can come back; the total was checked above
            checks.check(got.size() == MAX_WINDOW, () -> what + ": expected " + MAX_WINDOW + " hits, got " + got.size() + "\n  " + req);
        }
        checks.check(missing.isEmpty() && extra.isEmpty(), () -> what + ": id sets differ; missing " + missing.size() + " "
            + missing.stream().sorted().limit(5).collect(Collectors.toList()) + ", unexpected " + extra.size() + " "
            + extra.stream().sorted().limit(5).collect(Collectors.toList()) + "\n  " + req);
    }

    @Test
    void afterDeletesUpdatesAndForceMerge() throws IOException {
        // On a copy of the index and of the oracle's documents: the other tests keep the index as set up.
        String shared = index;
        List<Doc> sharedDocs = new ArrayList<>(docs);
        Map<String, Doc> sharedById = new HashMap<>(byId);
        int sharedNextDocId = nextDocId;
        index = shared + "-mutations";
        docs.clear();
        byId.clear();
        for (Doc d : sharedDocs) {
            Doc c = new Doc(d.id);
            c.tag = d.tag;
            c.num = d.num;
            c.codes = d.codes.clone();
            c.sent = d.sent.clone();
            c.deleted = d.deleted;
            docs.add(c);
            byId.put(c.id, c);
        }
        try {
            es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
            es.client.indices().create(c -> c.index(index).withJson(new StringReader(createJson)));
            List<Doc> live = docs.stream().filter(d -> !d.deleted).collect(Collectors.toList());
            for (int from = 0; from < live.size(); from += 500) {
                indexDocs(live.subList(from, Math.min(live.size(), from + 500)));
                es.client.indices().refresh(r -> r.index(index));
            }
            mutateAndCheck();
        } finally {
            es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
            index = shared;
            docs.clear();
            docs.addAll(sharedDocs);
            byId.clear();
            byId.putAll(sharedById);
            nextDocId = sharedNextDocId;
        }
    }

    private void mutateAndCheck() throws IOException {
        long t0 = System.nanoTime();
        Checks checks = new Checks("mutations");
        // delete ~5%, replace ~5% (new codes, possibly no value), add 100
        List<Doc> live = docs.stream().filter(d -> !d.deleted).collect(Collectors.toList());
        BulkRequest.Builder bulk = new BulkRequest.Builder();
        int deletes = 0;
        int updates = 0;
        List<Doc> changed = new ArrayList<>();
        for (Doc d : live) {
            double p = rnd.nextDouble();
            if (p < 0.05) {
                d.deleted = true;
                bulk.operations(op -> op.delete(del -> del.index(index).id(d.id)));
                deletes++;
            } else if (p < 0.10) {
                fillDoc(d);
                changed.add(d);
                updates++;
            }
        }
        for (int i = 0; i < 100; i++) {
            changed.add(newDoc());
        }
        for (Doc d : changed) {
            ObjectNode src = source(d);
            bulk.operations(op -> op.index(ix -> ix.index(index).id(d.id).document(src)));
        }
        BulkResponse resp = es.client.bulk(bulk.build());
        count("bulk");
        assertFalse(resp.errors(), () -> "bulk had errors: " + resp.items().stream().filter(it -> it.error() != null).limit(3)
            .map(it -> it.id() + " " + it.error().reason()).collect(Collectors.joining("; ")));
        es.client.indices().refresh(r -> r.index(index));
        System.out.printf(Locale.ROOT, "[" + name + "] mutated: %d deleted, %d replaced, 100 added%n", deletes, updates);

        runTopK(checks, 6, "topk_mutated");
        runRadius(checks, 3, "radius_mutated");
        runExists(checks);
        runAggs(checks, 2, "aggs_mutated");
        runCompositions(checks, 1, "compose_mutated");

        es.client.indices().forcemerge(fm -> fm.index(index).maxNumSegments(1L));
        es.client.indices().refresh(r -> r.index(index));
        Raw segments = es.raw("GET", "/_cat/segments/" + index + "?format=json", (String) null);
        System.out.printf(Locale.ROOT, "[%s] force-merged: %d segments%n", name, segments.json().size());

        runTopK(checks, 6, "topk_merged");
        runRadius(checks, 3, "radius_merged");
        runPaging(checks, 1, "paging_merged");
        runExists(checks);
        runFields(checks, 60);
        runAggs(checks, 2, "aggs_merged");
        runCompositions(checks, 1, "compose_merged");
        // the disk-usage analyzer reads every field's doc values
        Raw usage = es.raw("POST", "/" + index + "/_disk_usage?run_expensive_tasks=true", (String) null);
        count("disk_usage");
        if (checks.check(usage.status() == 200, () -> "_disk_usage: " + usage.describe())) {
            long liveDocs = docs.stream().filter(d -> !d.deleted).count();
            StringBuilder sb = new StringBuilder();
            for (FieldSpec f : fields) {
                JsonNode fu = usage.json().path(index).path("fields").path(f.name());
                sb.append(String.format(Locale.ROOT, " %s=%s (%.1f B/doc for %d-bit codes)", f.name(),
                    fu.path("doc_values").asText("?"), fu.path("doc_values_in_bytes").asDouble() / liveDocs, f.bits()));
            }
            System.out.printf(Locale.ROOT, "[%s] doc values after force-merge:%s%n", name, sb);
        }
        checks.assertNone();
        timed("mutations", t0);
    }
}
