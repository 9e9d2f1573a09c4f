package org.deephash.engine;

import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentReader;
import org.deephash.DeepHashPlugin;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.compat.TestCompat;
import org.deephash.hamming.HammingIterator;
import org.deephash.hamming.HammingKernel;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HashCode;
import org.deephash.query.HammingQueryBuilder;
import org.elasticsearch.action.admin.indices.shrink.ResizeType;
import org.elasticsearch.action.bulk.BulkRequestBuilder;
import org.elasticsearch.action.search.SearchResponse;
import org.elasticsearch.action.support.WriteRequest;
import org.elasticsearch.common.lucene.Lucene;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.IndexService;
import org.elasticsearch.index.engine.Engine;
import org.elasticsearch.index.shard.IndexShard;
import org.elasticsearch.indices.IndicesService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.search.SearchHit;
import org.elasticsearch.search.builder.SearchSourceBuilder;
import org.elasticsearch.search.suggest.Suggest;
import org.elasticsearch.test.ESIntegTestCase;
import org.elasticsearch.xcontent.XContentParser;
import org.elasticsearch.xcontent.XContentParserConfiguration;
import org.elasticsearch.xcontent.XContentType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertAcked;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertNoFailures;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertResponse;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;

/**
 * {@code index.deep_hash.codec: true} on an in-process cluster: binary_hash fields really land in the
 * plugin's format, every other field keeps Elasticsearch's own, and codes survive force-merge, full
 * restart, split, shrink and snapshot/restore.
 */
@ESIntegTestCase.ClusterScope(scope = ESIntegTestCase.Scope.TEST, numDataNodes = 2)
public class DeepHashCodecClusterTests extends ESIntegTestCase {

    private static final String MAPPING = """
        {"properties": {
          "h": {"type": "binary_hash", "bits": 64},
          "v": {"type": "dense_vector", "element_type": "bit", "dims": 64, "index": true, "similarity": "l2_norm"},
          "s": {"type": "completion"},
          "tag": {"type": "keyword"}
        }}""";

    private final Map<String, byte[]> codes = new HashMap<>();

    @Override
    protected Collection<Class<? extends Plugin>> nodePlugins() {
        return List.of(DeepHashPlugin.class);
    }

    /** The test framework's mock engine would be a second engine factory for the same index. */
    @Override
    protected boolean addMockInternalEngine() {
        return false;
    }

    private void createIndex(String name, boolean deepHashCodec, int shards) {
        assertAcked(
            prepareCreate(name).setSettings(
                Settings.builder()
                    .put("index.number_of_shards", shards)
                    .put("index.number_of_replicas", 1)
                    .put("index.codec", "default")
                    .put("index.deep_hash.codec", deepHashCodec)
            ).setMapping(MAPPING)
        );
    }

    private void indexDocs(int count, String... indices) {
        for (String index : indices) {
            BulkRequestBuilder bulk = client().prepareBulk().setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE);
            for (int i = 0; i < count; i++) {
                String id = "d" + i;
                byte[] code = codes.computeIfAbsent(id, k -> HammingOracle.randomCode(random(), 64));
                String hex = HashCode.ofBytes(code).toHex();
                // Distinct completion weights: suggestions tied on weight come back in an order that
                // depends on the copy (primary or replica) that answers, not on the format.
                bulk.add(prepareIndex(index).setId(id).setSource(Map.of("h", hex, "v", hex, "s", Map.of("input", "word" + (i % 37) + " " + id, "weight", i + 1), "tag", "t" + (i % 5))));
            }
            assertNoFailures(bulk.get());
        }
    }

    /** Radius and top-k answers of {@code index} equal the oracle over {@link #codes}. */
    private void assertHammingMatchesOracle(String index) {
        for (int round = 0; round < 5; round++) {
            byte[] query = HammingOracle.randomCode(random(), 64);
            int radius = between(20, 28);
            Set<String> expected = new HashSet<>();
            codes.forEach((id, code) -> {
                if (HammingOracle.distance(query, code) <= radius) {
                    expected.add(id);
                }
            });
            assertResponse(
                prepareSearch(index).setQuery(new HammingQueryBuilder("h", HashCode.ofBytes(query), radius)).setSize(codes.size()).setTrackTotalHits(true),
                response -> {
                    Set<String> got = new HashSet<>();
                    for (SearchHit hit : response.getHits()) {
                        got.add(hit.getId());
                        assertThat(hit.getScore(), equalTo(1f - HammingOracle.distance(query, codes.get(hit.getId())) / 64f));
                    }
                    assertEquals(index, expected, got);
                }
            );
        }
    }

    private SearchResponse search(String index, String json) throws IOException {
        try (XContentParser parser = XContentType.JSON.xContent().createParser(XContentParserConfiguration.EMPTY.withRegistry(xContentRegistry()), json)) {
            SearchSourceBuilder source = new SearchSourceBuilder().parseXContent(parser, true, f -> true);
            return prepareSearch(index).setSource(source).get();
        }
    }

    /** Hit ids and scores, or suggestion texts, of a response: what must be identical across the two indices. */
    private static List<String> summary(SearchResponse response) {
        List<String> out = new ArrayList<>();
        for (SearchHit hit : response.getHits()) {
            out.add(hit.getId() + ":" + hit.getScore());
        }
        Suggest suggest = response.getSuggest();
        if (suggest != null) {
            for (var option : suggest.getSuggestion("s").getEntries().get(0).getOptions()) {
                out.add(option.getText().string() + ":" + option.getScore());
            }
        }
        return out;
    }

    public void testOtherFieldsKeepElasticsearchFormats() throws Exception {
        createIndex("plain", false, 1);
        createIndex("hashed", true, 1);
        ensureGreen("plain", "hashed");
        indexDocs(300, "plain", "hashed");
        flushAndRefresh("plain", "hashed");

        String queryHex = HashCode.ofBytes(HammingOracle.randomCode(random(), 64)).toHex();
        List<String> requests = List.of(
            "{\"knn\": {\"field\": \"v\", \"query_vector\": \"" + queryHex + "\", \"k\": 10, \"num_candidates\": 50}}",
            "{\"suggest\": {\"s\": {\"prefix\": \"word1\", \"completion\": {\"field\": \"s\", \"size\": 10}}}}",
            "{\"query\": {\"hamming\": {\"field\": \"h\", \"code\": \"" + queryHex + "\"}}, \"size\": 20}",
            "{\"query\": {\"ids\": {\"values\": [\"d1\", \"d7\", \"d299\"]}}}",
            "{\"query\": {\"term\": {\"tag\": \"t3\"}}, \"size\": 100}"
        );
        for (String request : requests) {
            SearchResponse plain = search("plain", request);
            SearchResponse hashed = search("hashed", request);
            try {
                assertThat(request, summary(plain).size(), greaterThan(0));
                assertThat(request, summary(hashed), equalTo(summary(plain)));
            } finally {
                plain.decRef();
                hashed.decRef();
            }
        }

        // The hash field is in the plugin's format (and the scan takes the block path through
        // Elasticsearch's reader wrappers); the vector and completion fields record the same formats in both.
        Map<String, String> plainFormats = formats("plain");
        Map<String, String> hashedFormats = formats("hashed");
        assertThat(hashedFormats.get("h dv"), equalTo(FixedBitsDocValuesFormat.NAME));
        assertThat(plainFormats.get("h dv"), equalTo("Lucene90"));
        for (String key : List.of("v knn", "s postings", "_id postings", "tag dv")) {
            assertThat(key, hashedFormats.get(key), equalTo(plainFormats.get(key)));
        }
        assertThat(hashedFormats.get("scan"), equalTo("BlockScan"));
        assertThat(plainFormats.get("scan"), equalTo("OneByOne"));
    }

    /** Per-field format names recorded in the segments of a primary of {@code index}, and the scan the query uses there. */
    private Map<String, String> formats(String index) throws IOException {
        Map<String, String> formats = new HashMap<>();
        for (IndicesService indices : internalCluster().getInstances(IndicesService.class)) {
            IndexService service = indices.indexService(resolveIndex(index));
            if (service == null) {
                continue;
            }
            IndexShard shard = service.getShard(0);
            try (Engine.Searcher searcher = shard.acquireSearcher("test")) {
                for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
                    SegmentReader segment = Lucene.segmentReader(leaf.reader());
                    for (FieldInfo info : segment.getFieldInfos()) {
                        put(formats, info.name + " dv", info.getAttribute("PerFieldDocValuesFormat.format"));
                        put(formats, info.name + " knn", info.getAttribute("PerFieldKnnVectorsFormat.format"));
                        put(formats, info.name + " postings", info.getAttribute("PerFieldPostingsFormat.format"));
                    }
                    HammingIterator scan = HammingIterator.open(leaf.reader(), "h", HammingKernel.forCode(HashCode.ofBytes(new byte[8])), 64);
                    formats.put("scan", scan.getClass().getSimpleName());
                    assertThat(segment.getSegmentInfo().info.getCodec().getName(), equalTo(index.equals("hashed") ? DeepHashCodecs.DEFAULT_WRAPPED : DeepHashCodecs.DEFAULT));
                }
            }
            return formats;
        }
        throw new AssertionError("no shard of " + index);
    }

    private static void put(Map<String, String> formats, String key, String value) {
        if (value != null) {
            formats.put(key, value);
        }
    }

    public void testCodesSurviveMergeRestartResizeAndSnapshot() throws Exception {
        createIndex("hashed", true, 2);
        ensureGreen("hashed");
        indexDocs(between(200, 600), "hashed");
        flushAndRefresh("hashed");
        assertHammingMatchesOracle("hashed");

        assertNoFailures(indicesAdmin().prepareForceMerge("hashed").setMaxNumSegments(1).get());
        refresh("hashed");
        assertHammingMatchesOracle("hashed");

        internalCluster().fullRestart();
        ensureGreen("hashed");
        assertHammingMatchesOracle("hashed");

        // Updates and deletes after the restart write soft-delete doc values into segments loaded from disk.
        String deleted = randomFrom(new ArrayList<>(codes.keySet()));
        client().prepareDelete("hashed", deleted).setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE).get();
        codes.remove(deleted);
        String updated = randomFrom(new ArrayList<>(codes.keySet()));
        codes.put(updated, HammingOracle.randomCode(random(), 64));
        prepareIndex("hashed").setId(updated).setSource(Map.of("h", HashCode.ofBytes(codes.get(updated)).toHex()))
            .setRefreshPolicy(WriteRequest.RefreshPolicy.IMMEDIATE).get();
        assertHammingMatchesOracle("hashed");

        // Split and shrink copy the segments' files as they are.
        updateIndexSettings(Settings.builder().put("index.blocks.write", true), "hashed");
        assertAcked(indicesAdmin().prepareResizeIndex("hashed", "split").setResizeType(ResizeType.SPLIT)
            .setSettings(Settings.builder().put("index.number_of_shards", 4).put("index.number_of_replicas", 0).putNull("index.blocks.write").build()));
        assertAcked(indicesAdmin().prepareResizeIndex("hashed", "shrunk").setResizeType(ResizeType.SHRINK)
            .setSettings(Settings.builder().put("index.number_of_shards", 1).put("index.number_of_replicas", 0).putNull("index.blocks.write").build()));
        ensureGreen("split", "shrunk");
        assertHammingMatchesOracle("split");
        assertHammingMatchesOracle("shrunk");
        assertThat(
            TestCompat.setting(client(), "split", "index.deep_hash.codec"),
            equalTo("true")
        );

        assertAcked(clusterAdmin().preparePutRepository(TEST_REQUEST_TIMEOUT, TEST_REQUEST_TIMEOUT, "repo").setType("fs")
            .setSettings(Settings.builder().put("location", randomRepoPath())));
        clusterAdmin().prepareCreateSnapshot(TEST_REQUEST_TIMEOUT, "repo", "snap").setIndices("hashed").setWaitForCompletion(true).get();
        assertAcked(indicesAdmin().prepareDelete("hashed"));
        clusterAdmin().prepareRestoreSnapshot(TEST_REQUEST_TIMEOUT, "repo", "snap").setIndices("hashed").setWaitForCompletion(true).get();
        ensureGreen("hashed");
        assertHammingMatchesOracle("hashed");
    }

    public void testOnlySupportedCodecsAreAccepted() {
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> prepareCreate("bad").setSettings(Settings.builder().put("index.codec", "lucene_default").put("index.deep_hash.codec", true)).get()
        );
        assertThat(e.getMessage(), org.hamcrest.Matchers.containsString("[index.deep_hash.codec] works with [index.codec] set to one of"));
    }
}
