package org.deephash.compat;

import org.apache.lucene.search.TotalHits;
import org.elasticsearch.action.ingest.PutPipelineTransportAction;
import org.elasticsearch.client.internal.Client;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.ingest.IngestPipelineTestUtils;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.test.rest.FakeRestChannel;

import java.util.Map;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertAcked;

/** The test framework's calls that changed between Elasticsearch 8.19 and 9.1 (src/test/es8 has the other side). */
public final class TestCompat {
    private static final TimeValue MASTER_TIMEOUT = TimeValue.timeValueSeconds(30);

    private TestCompat() {}

    /** The hit count of a search's total (a field in Lucene 9, a record accessor in Lucene 10). */
    public static long count(TotalHits totalHits) {
        return totalHits.value();
    }

    /** {@code index}'s mapping as a map. */
    public static Map<String, Object> mapping(Client client, String index) {
        return client.admin().indices().prepareGetMappings(MASTER_TIMEOUT, index).get().mappings().get(index).sourceAsMap();
    }

    /** One setting of {@code index}, as the get-settings API returns it. */
    public static String setting(Client client, String index, String setting) {
        return client.admin().indices().prepareGetSettings(MASTER_TIMEOUT, index).get().getSetting(index, setting);
    }

    /** Stores an ingest pipeline from its JSON and checks that it was acknowledged; a refusal is thrown as the node's exception. */
    public static void putPipeline(Client client, String id, String json) {
        assertAcked(client.execute(PutPipelineTransportAction.TYPE, IngestPipelineTestUtils.putJsonPipelineRequest(id, json)).actionGet());
    }

    /** A channel that records the one response a REST handler sends. */
    public static FakeRestChannel restChannel(RestRequest request) {
        return new FakeRestChannel(request, true, 1);
    }
}
