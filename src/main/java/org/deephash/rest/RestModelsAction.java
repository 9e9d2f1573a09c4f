package org.deephash.rest;

import org.deephash.model.ModelRegistry;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.action.RestToXContentListener;

import java.util.List;

import static org.elasticsearch.rest.RestRequest.Method.GET;

/**
 * {@code GET _deep_hash/models[/{name}]}: the models the node that answers can hash with, bundled and
 * the user's, with what each takes and gives; a model whose files fail the checks is listed with the
 * reason. A loaded model says since when it serves ({@code loaded_at}), which load it is ({@code
 * generation}: 1, then one more for each reload) and, when the files on disk failed their checks at
 * the last reload, {@code reload_failure} while the loaded version keeps serving. Runs on the
 * {@code deep_hash_search} pool (listing checks the files' SHA-256).
 */
public final class RestModelsAction extends BaseRestHandler {
    @Override
    public String getName() {
        return "deep_hash_models";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(GET, "/_deep_hash/models"), new Route(GET, "/_deep_hash/models/{name}"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
        String name = request.param("name");
        if (name != null) {
            ModelRegistry.checkName(name);
        }
        GetModelsAction.Request modelsRequest = new GetModelsAction.Request(name);
        return channel -> client.execute(GetModelsAction.INSTANCE, modelsRequest, new RestToXContentListener<>(channel));
    }
}
