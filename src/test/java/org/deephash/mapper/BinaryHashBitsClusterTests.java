package org.deephash.mapper;

import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentReader;
import org.deephash.DeepHashPlugin;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HashCode;
import org.elasticsearch.action.bulk.BulkRequestBuilder;
import org.elasticsearch.action.search.SearchResponse;
import org.elasticsearch.common.lucene.Lucene;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.IndexService;
import org.elasticsearch.index.engine.Engine;
import org.elasticsearch.index.shard.IndexShard;
import org.elasticsearch.indices.IndicesService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.search.aggregations.bucket.SingleBucketAggregation;
import org.elasticsearch.search.aggregations.bucket.histogram.Histogram;
import org.elasticsearch.search.aggregations.bucket.terms.Terms;
import org.elasticsearch.search.builder.SearchSourceBuilder;
import org.elasticsearch.test.ESIntegTestCase;
import org.elasticsearch.xcontent.XContentParser;
import org.elasticsearch.xcontent.XContentParserConfiguration;
import org.elasticsearch.xcontent.XContentType;

import java.io.IOException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertAcked;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertNoFailures;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;

/**
 * Bit balance through {@code bits_field: true}: the README's {@code terms} and {@code histogram}
 * requests over {@code <field>.bits} must give, for N random codes, exactly the per-bit counts a
 * brute-force count gives, on several shards and nodes, with and without {@code index.deep_hash.codec};
 * and under that codec the sub-field must keep Elasticsearch's doc-values format.
 */
@ESIntegTestCase.ClusterScope(scope = ESIntegTestCase.Scope.SUITE, numDataNodes = 2)
public class BinaryHashBitsClusterTests extends ESIntegTestCase {

    @Override
    protected Collection<Class<? extends Plugin>> nodePlugins() {
        return List.of(DeepHashPlugin.class);
    }

    /** The test framework's mock engine would be a second engine factory for the codec index. */
    @Override
    protected boolean addMockInternalEngine() {
        return false;
    }

    public void testPerBitCountsEqualABruteForceCount() throws IOException {
        int bits = randomFrom(8, 64, 128, 256, 72);
        for (String index : List.of("plain", "hashed")) {
            assertAcked(
                prepareCreate(index).setSettings(
                    Settings.builder()
                        .put("index.number_of_shards", between(1, 3))
                        .put("index.number_of_replicas", between(0, 1))
                        .put("index.codec", "default")
                        .put("index.deep_hash.codec", index.equals("hashed"))
                ).setMapping("""
                    {"properties": {"hash": {"type": "binary_hash", "bits": BITS, "bits_field": true}, "tag": {"type": "keyword"}}}""".replace("BITS", Integer.toString(bits)))
            );
        }
        ensureGreen("plain", "hashed");

        // Bits as a trained model leaves them: some never set, some always, the rest at their own rate.
        double[] rate = new double[bits];
        for (int i = 0; i < bits; i++) {
            rate[i] = randomFrom(0.0, 1.0, randomDouble(), randomDouble());
        }
        int docs = between(50, 400);
        long[] expected = new long[bits];
        int withCode = 0;
        BulkRequestBuilder plain = client().prepareBulk();
        BulkRequestBuilder hashed = client().prepareBulk();
        for (int d = 0; d < docs; d++) {
            Map<String, Object> source = new HashMap<>();
            source.put("tag", "t" + (d % 3));
            if (rarely() == false) {
                byte[] code = new byte[bits / 8];
                for (int i = 0; i < bits; i++) {
                    if (random().nextDouble() < rate[i]) {
                        code[i / 8] |= (byte) (0x80 >>> (i % 8));
                        expected[i]++;
                    }
                }
                source.put("hash", randomBoolean() ? HashCode.ofBytes(code).toHex() : bitList(code, bits));
                withCode++;
            }
            plain.add(prepareIndex("plain").setId("d" + d).setSource(source));
            hashed.add(prepareIndex("hashed").setId("d" + d).setSource(source));
        }
        assertNoFailures(plain.get());
        assertNoFailures(hashed.get());
        flushAndRefresh("plain", "hashed");

        for (String index : List.of("plain", "hashed")) {
            // The README's requests, as a Vega panel sends them.
            SearchResponse response = search(index, """
                {"size": 0, "aggs": {
                  "with_code": {"filter": {"exists": {"field": "hash"}}},
                  "bit_balance": {"histogram": {"field": "hash.bits", "interval": 1, "min_doc_count": 0,
                                                "extended_bounds": {"min": 0, "max": MAX}}},
                  "bits_set": {"terms": {"field": "hash.bits", "size": SIZE}}
                }}""".replace("MAX", Integer.toString(bits - 1)).replace("SIZE", Integer.toString(bits)));
            try {
                assertNoFailures(response);
                assertEquals(index, withCode, ((SingleBucketAggregation) response.getAggregations().get("with_code")).getDocCount());

                List<? extends Histogram.Bucket> histogram = ((Histogram) response.getAggregations().get("bit_balance")).getBuckets();
                assertEquals(index + ": one bucket per bit, never-set bits included", bits, histogram.size());
                for (int i = 0; i < bits; i++) {
                    assertEquals(index + " bit " + i, (double) i, ((Number) histogram.get(i).getKey()).doubleValue(), 0);
                    assertEquals(index + " bit " + i, expected[i], histogram.get(i).getDocCount());
                }

                long[] fromTerms = new long[bits];
                Terms terms = response.getAggregations().get("bits_set");
                assertEquals(index, 0, terms.getSumOfOtherDocCounts());
                for (Terms.Bucket bucket : terms.getBuckets()) {
                    fromTerms[bucket.getKeyAsNumber().intValue()] = bucket.getDocCount();
                }
                assertArrayEquals(index, expected, fromTerms);
            } finally {
                response.decRef();
            }
        }

        Map<String, String> plainFormats = docValuesFormats("plain");
        Map<String, String> hashedFormats = docValuesFormats("hashed");
        assertThat(hashedFormats.get("hash"), equalTo(FixedBitsDocValuesFormat.NAME));
        assertNotNull(plainFormats.toString(), plainFormats.get("hash.bits"));
        assertThat("the sub-field keeps Elasticsearch's format under the plugin's codec", hashedFormats.get("hash.bits"), equalTo(plainFormats.get("hash.bits")));
        assertThat(hashedFormats.get("hash.bits"), not(equalTo(FixedBitsDocValuesFormat.NAME)));
        assertThat(hashedFormats.get("tag"), equalTo(plainFormats.get("tag")));
        logger.info("doc-values formats: plain {}, with index.deep_hash.codec {}", plainFormats, hashedFormats);
    }

    private static List<Integer> bitList(byte[] code, int bits) {
        Integer[] out = new Integer[bits];
        for (int i = 0; i < bits; i++) {
            out[i] = HammingOracle.bit(code, i);
        }
        return List.of(out);
    }

    private SearchResponse search(String index, String json) throws IOException {
        try (XContentParser parser = XContentType.JSON.xContent().createParser(XContentParserConfiguration.EMPTY.withRegistry(xContentRegistry()), json)) {
            return prepareSearch(index).setSource(new SearchSourceBuilder().parseXContent(parser, true, f -> true)).get();
        }
    }

    /** The doc-values format each field records in the segments of shard copies of {@code index}. */
    private Map<String, String> docValuesFormats(String index) throws IOException {
        Map<String, String> formats = new HashMap<>();
        for (IndicesService indices : internalCluster().getInstances(IndicesService.class)) {
            IndexService service = indices.indexService(resolveIndex(index));
            if (service == null) {
                continue;
            }
            for (IndexShard shard : service) {
                try (Engine.Searcher searcher = shard.acquireSearcher("test")) {
                    for (LeafReaderContext leaf : searcher.getIndexReader().leaves()) {
                        SegmentReader segment = Lucene.segmentReader(leaf.reader());
                        for (FieldInfo info : segment.getFieldInfos()) {
                            String format = info.getAttribute("PerFieldDocValuesFormat.format");
                            if (format != null) {
                                String before = formats.put(info.name, format);
                                assertTrue(info.name + ": " + before + " and " + format, before == null || before.equals(format));
                            }
                        }
                    }
                }
            }
        }
        return formats;
    }
}
