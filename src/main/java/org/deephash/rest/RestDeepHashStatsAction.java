package org.deephash.rest;

import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.common.Strings;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.action.RestActions;

import java.util.List;

import static org.elasticsearch.rest.RestRequest.Method.GET;

/** {@code GET _deep_hash/stats} and {@code GET _deep_hash/stats/{nodeId}}: per-node hashing counters. */
public final class RestDeepHashStatsAction extends BaseRestHandler {
    @Override
    public String getName() {
        return "deep_hash_stats";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(GET, "/_deep_hash/stats"), new Route(GET, "/_deep_hash/stats/{nodeId}"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String[] nodes = Strings.splitStringByCommaToArray(request.param("nodeId"));
        DeepHashStatsAction.Request statsRequest = new DeepHashStatsAction.Request(nodes);
        return channel -> client.execute(DeepHashStatsAction.INSTANCE, statsRequest, new RestActions.NodesResponseRestListener<>(channel));
    }
}
