package org.deephash.rest;

import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.common.Strings;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.action.RestActions;

import java.util.List;

import static org.elasticsearch.rest.RestRequest.Method.POST;

/**
 * {@code POST _deep_hash/models/_reload} and {@code POST _deep_hash/models/_reload/{nodeId}}: the
 * nodes look for new, replaced and removed models now rather than at their next
 * {@code deep_hash.models.reload_interval}, and say what changed.
 */
public final class RestReloadModelsAction extends BaseRestHandler {
    @Override
    public String getName() {
        return "deep_hash_models_reload";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(POST, "/_deep_hash/models/_reload"), new Route(POST, "/_deep_hash/models/_reload/{nodeId}"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String[] nodes = Strings.splitStringByCommaToArray(request.param("nodeId"));
        ReloadModelsAction.Request reloadRequest = new ReloadModelsAction.Request(nodes);
        return channel -> client.execute(ReloadModelsAction.INSTANCE, reloadRequest, new RestActions.NodesResponseRestListener<>(channel));
    }
}
