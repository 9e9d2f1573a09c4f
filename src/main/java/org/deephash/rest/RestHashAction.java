package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.model.HashInput;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import static org.elasticsearch.rest.RestRequest.Method.POST;

/**
 * {@code POST _deep_hash/models/{name}/_hash} with {@code {"text": ..., "image": base64}} (either or
 * both): the code of the entry point the inputs call for (fused for both), its embedding, and with
 * both inputs the per-modality codes too. For looking at what a model does with an input, and for
 * clients that hash outside a pipeline.
 */
public final class RestHashAction extends BaseRestHandler {
    private static final Set<String> FIELDS = Set.of("text", "image");
    private final Supplier<DeepHashService> service;

    public RestHashAction(Supplier<DeepHashService> service) {
        this.service = service;
    }

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
        DeepHashService s = service.get();
        return channel -> RestSupport.fork(s, channel, () -> {
            long start = System.nanoTime();
            HashInput input = s.input(image, "[_hash] [image]", text, "[_hash] [text]");
            EntryPoint entry = input.entryPoint();
            // With both inputs, the per-modality codes too: one call, one decode and one caption encoding.
            DeepHashService.Hashed hashed = s.hash(
                model,
                input,
                entry == EntryPoint.FUSED ? EnumSet.allOf(EntryPoint.class) : EnumSet.noneOf(EntryPoint.class),
                HashStats.Caller.API
            );
            Map<EntryPoint, HashOutput> outputs = hashed.outputs();
            HashOutput main = hashed.main();
            XContentBuilder b = channel.newBuilder();
            b.startObject();
            b.field("model", model);
            b.field("entry_point", entry.jsonName());
            b.field("bits", main.code().length * 8);
            b.field("code", main.codeHex());
            if (entry == EntryPoint.FUSED) {
                b.startObject("codes");
                for (EntryPoint e : List.of(EntryPoint.FUSED, EntryPoint.IMAGE, EntryPoint.TEXT)) {
                    b.field(e.jsonName(), outputs.get(e).codeHex());
                }
                b.endObject();
            }
            b.array("embedding", main.embedding());
            b.field("took_in_millis", (System.nanoTime() - start) / 1_000_000);
            b.endObject();
            return new RestResponse(RestStatus.OK, b);
        });
    }
}
