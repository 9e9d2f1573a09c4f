package org.deephash.query;

import org.deephash.DeepHashPlugin;
import org.deephash.compat.TestCompat;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HashCode;
import org.elasticsearch.action.bulk.BulkRequestBuilder;
import org.elasticsearch.action.search.SearchRequestBuilder;
import org.elasticsearch.action.support.WriteRequest;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.query.BoolQueryBuilder;
import org.elasticsearch.index.query.QueryBuilder;
import org.elasticsearch.index.query.QueryBuilders;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.search.SearchHit;
import org.elasticsearch.search.aggregations.AggregationBuilders;
import org.elasticsearch.search.aggregations.bucket.terms.StringTerms;
import org.elasticsearch.search.aggregations.bucket.terms.Terms;
import org.elasticsearch.test.ESIntegTestCase;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertAcked;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertNoFailures;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertResponse;
import static org.hamcrest.Matchers.equalTo;

/**
 * The {@code hamming} query on an in-process cluster of several nodes, with 3 shards and a replica, so
 * that the query builder crosses the transport layer and results are merged across shards. Every
 * answer is checked against a brute-force oracle over the same codes.
 */
@ESIntegTestCase.ClusterScope(scope = ESIntegTestCase.Scope.SUITE, numDataNodes = 3)
public class HammingSearchClusterTests extends ESIntegTestCase {

    private record Doc(String id, byte[] code, String group, int num) {}

    private record Ranked(String id, int distance) {}

    @Override
    protected Collection<Class<? extends Plugin>> nodePlugins() {
        return List.of(DeepHashPlugin.class);
    }

    private int bits;
    private final Map<String, Doc> docs = new HashMap<>();

    private void indexRandomCodes() {
        bits = randomFrom(64, 128, 256, 8 * between(1, 64));
        assertAcked(prepareCreate("codes").setSettings(Settings.builder().put("index.number_of_shards", 3).put("index.number_of_replicas", 1))
            .setMapping("""
                {"properties": {"h": {"type": "binary_hash", "bits": BITS}, "group": {"type": "keyword"}, "num": {"type": "integer"}}}"""
                // Not %d: the test framework picks a random default locale, whose digits may not be ASCII.
                .replace("BITS", Integer.toString(bits))));
        ensureGreen("codes");
        int count = between(500, 2500);
        byte[] centre = HammingOracle.randomCode(random(), bits);
        BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
        for (int i = 0; i < count; i++) {
            String id = "d" + i;
            String group = randomFrom("a", "b", "c", "d");
            int num = between(0, 99);
            byte[] code = null;
            if (rarely() == false) {
                code = randomBoolean() ? HammingOracle.flip(random(), centre, between(0, Math.min(bits, 10))) : HammingOracle.randomCode(random(), bits);
            }
            docs.put(id, new Doc(id, code, group, num));
            Map<String, Object> source = new HashMap<>();
            source.put("group", group);
            source.put("num", num);
            if (code != null) {
                source.put("h", HashCode.ofBytes(code).toHex());
            }
            bulk.add(prepareIndex("codes").setId(id).setSource(source));
            if (bulk.numberOfActions() == 500) {
                assertNoFailures(bulk.get());
                bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
            }
        }
        if (bulk.numberOfActions() > 0) {
            assertNoFailures(bulk.get());
        }
        logger.info("indexed {} docs of {} bits", count, bits);
    }

    private List<Ranked> oracle(byte[] query, int maxDistance, Predicate<Doc> filter) {
        List<Ranked> ranked = new ArrayList<>();
        for (Doc doc : docs.values()) {
            if (doc.code() != null && filter.test(doc)) {
                int d = HammingOracle.distance(query, doc.code());
                if (d <= maxDistance) {
                    ranked.add(new Ranked(doc.id(), d));
                }
            }
        }
        ranked.sort(Comparator.comparingInt(Ranked::distance));
        return ranked;
    }

    private byte[] randomQuery() {
        if (randomBoolean()) {
            return HammingOracle.randomCode(random(), bits);
        }
        Doc doc = randomFrom(docs.values().stream().filter(d -> d.code() != null).toList());
        return HammingOracle.flip(random(), doc.code(), between(0, 5));
    }

    private float score(int distance) {
        return 1f - (float) distance / bits;
    }

    /** Hits from {@code from} on must have the oracle's distances rank by rank; ids may differ only among ties. */
    private void assertRanking(SearchRequestBuilder search, byte[] query, List<Ranked> expected, int from, int size) {
        assertResponse(search, response -> {
            SearchHit[] hits = response.getHits().getHits();
            assertThat(hits.length, equalTo(Math.max(0, Math.min(size, expected.size() - from))));
            for (int i = 0; i < hits.length; i++) {
                int d = HammingOracle.distance(query, docs.get(hits[i].getId()).code());
                assertThat("rank " + (from + i), d, equalTo(expected.get(from + i).distance()));
                assertThat(hits[i].getScore(), equalTo(score(d)));
            }
        });
    }

    public void testSearchesMatchTheOracle() {
        indexRandomCodes();
        for (int round = 0; round < 15; round++) {
            byte[] query = randomQuery();
            HashCode code = HashCode.ofBytes(query);

            // Top-k with and without total hit tracking (without it, the scorer prunes by distance).
            List<Ranked> all = oracle(query, bits, d -> true);
            int k = randomFrom(1, 10, 20, between(1, 100));
            assertRanking(
                prepareSearch("codes").setQuery(new HammingQueryBuilder("h", code, null)).setSize(k).setTrackTotalHits(randomBoolean()),
                query, all, 0, k
            );

            // Radius: exact set and exact count.
            int radius = between(0, Math.max(1, bits / 3));
            List<Ranked> within = oracle(query, radius, d -> true);
            assertResponse(
                prepareSearch("codes").setQuery(new HammingQueryBuilder("h", code, radius)).setSize(Math.max(1, within.size())).setTrackTotalHits(true),
                response -> {
                    assertThat(TestCompat.count(response.getHits().getTotalHits()), equalTo((long) within.size()));
                    Set<String> ids = new HashSet<>();
                    for (SearchHit hit : response.getHits()) {
                        ids.add(hit.getId());
                    }
                    assertEquals(idSet(within), ids);
                }
            );

            // Paging: each page holds the oracle's distances at those ranks.
            int from = between(0, 30);
            int size = between(1, 20);
            assertRanking(prepareSearch("codes").setQuery(new HammingQueryBuilder("h", code, null)).setFrom(from).setSize(size), query, all, from, size);

            // Inside bool: must + filter, should + filter, must_not.
            String group = randomFrom("a", "b", "c", "d");
            int minNum = between(0, 99);
            Predicate<Doc> filter = d -> d.group().equals(group) && d.num() >= minNum;
            List<Ranked> filtered = oracle(query, bits, filter);
            QueryBuilder filters = QueryBuilders.boolQuery()
                .filter(QueryBuilders.termQuery("group", group))
                .filter(QueryBuilders.rangeQuery("num").gte(minNum));
            BoolQueryBuilder must = QueryBuilders.boolQuery().must(new HammingQueryBuilder("h", code, null)).filter(filters);
            BoolQueryBuilder should = QueryBuilders.boolQuery().should(new HammingQueryBuilder("h", code, null)).filter(filters).minimumShouldMatch(1);
            assertRanking(prepareSearch("codes").setQuery(must).setSize(10), query, filtered, 0, 10);
            assertRanking(prepareSearch("codes").setQuery(should).setSize(10), query, filtered, 0, 10);

            Set<String> near = idSet(within);
            long notNear = docs.keySet().stream().filter(id -> near.contains(id) == false).count();
            assertResponse(
                prepareSearch("codes").setQuery(QueryBuilders.boolQuery().mustNot(new HammingQueryBuilder("h", code, radius))).setTrackTotalHits(true),
                response -> assertThat(TestCompat.count(response.getHits().getTotalHits()), equalTo(notNear))
            );

            // Aggregations over the documents within the radius.
            Map<String, Long> perGroup = new HashMap<>();
            for (Ranked r : within) {
                perGroup.merge(docs.get(r.id()).group(), 1L, Long::sum);
            }
            assertResponse(
                prepareSearch("codes").setQuery(new HammingQueryBuilder("h", code, radius)).setSize(0)
                    .addAggregation(AggregationBuilders.terms("groups").field("group")),
                response -> {
                    StringTerms terms = response.getAggregations().get("groups");
                    Map<String, Long> got = new HashMap<>();
                    for (Terms.Bucket bucket : terms.getBuckets()) {
                        got.put(bucket.getKeyAsString(), bucket.getDocCount());
                    }
                    assertEquals(perGroup, got);
                }
            );
        }
    }

    public void testNamedQueryAndExplainAcrossShards() {
        indexRandomCodes();
        Doc target = randomFrom(docs.values().stream().filter(d -> d.code() != null).toList());
        byte[] query = HammingOracle.flip(random(), target.code(), 3);
        assertResponse(
            prepareSearch("codes").setQuery(
                QueryBuilders.boolQuery()
                    .must(new HammingQueryBuilder("h", HashCode.ofBytes(query), 3).queryName("near"))
                    .filter(QueryBuilders.idsQuery().addIds(target.id()))
            ).setExplain(true),
            response -> {
                assertThat(response.getHits().getHits().length, equalTo(1));
                SearchHit hit = response.getHits().getAt(0);
                assertThat(hit.getMatchedQueries()[0], equalTo("near"));
                assertTrue(hit.getExplanation().toString(), hit.getExplanation().toString().contains("hamming distance 3 of " + bits + " bits"));
                assertThat(hit.getScore(), equalTo(score(3)));
            }
        );
    }

    private static Set<String> idSet(List<Ranked> ranked) {
        Set<String> ids = new HashSet<>();
        ranked.forEach(r -> ids.add(r.id()));
        return ids;
    }
}
