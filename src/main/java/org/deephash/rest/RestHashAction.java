package org.deephash.rest;

import org.deephash.model.ModelRegistry;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.action.RestToXContentListener;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.elasticsearch.rest.RestRequest.Method.POST;

/**
 * {@code POST _deep_hash/models/{name}/_hash} with {@code {"text": ..., "image": base64}} (either or
 * both): the code of the entry point the inputs call for (fused for both), its embedding, and with
 * both inputs the per-modality codes too. For looking at what a model does with an input, and for
 * clients that hash outside a pipeline. The work is {@link HashAction}'s, so that security authorizes it.
 */
public final class RestHashAction extends BaseRestHandler {
    private static final Set<String> FIELDS = Set.of("text", "image");
    @Override
    public String getName() {
        return "deep_hash_hash";
    }

    @Override
    public List<Route> routes() {
        return List.of(new Route(POST, "/_deep_hash/models/{name}/_hash"));
    }

    @Override
    protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) throws IOException {
        String model = request.param("name");
        ModelRegistry.checkName(model);
        if (request.hasContent() == false) {
            throw new IllegalArgumentException("[_hash] needs a body: {\"text\": \"...\"}, {\"image\": \"<base64>\"} or both");
        }
        Map<String, Object> body;
        try (XContentParser parser = request.contentParser()) {
            body = parser.map();
        }
        for (String key : body.keySet()) {
            if (FIELDS.contains(key) == false) {
                throw new IllegalArgumentException("[_hash] does not support [" + key + "]: it takes [text] and [image]");
            }
        }
        Object text = body.get("text");
        Object image = body.get("image");
        if (text == null && image == null) {
            throw new IllegalArgumentException("[_hash] needs [text], [image] or both");
        }
        HashAction.Request hashRequest = new HashAction.Request(model, text, image);
        return channel -> client.execute(HashAction.INSTANCE, hashRequest, new RestToXContentListener<>(channel));
    }
}
