package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.model.ModelConfig;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.ResourceNotFoundException;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.function.Supplier;

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
    private final Supplier<DeepHashService> service;

    public RestModelsAction(Supplier<DeepHashService> service) {
        this.service = service;
    }

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
        return channel -> RestSupport.fork(service.get(), channel, () -> {
            List<ModelRegistry.Entry> entries = service.get().registry().list();
            if (name != null) {
                ModelRegistry.checkName(name);
                entries = entries.stream().filter(e -> e.name().equals(name)).toList();
                if (entries.isEmpty()) {
                    throw new ResourceNotFoundException(
                        "unknown model [" + name + "]: the models here are " + service.get().registry().names()
                    );
                }
            }
            XContentBuilder b = channel.newBuilder();
            b.startObject().startArray("models");
            for (ModelRegistry.Entry e : entries) {
                write(b, e);
            }
            b.endArray().endObject();
            return new RestResponse(RestStatus.OK, b);
        });
    }

    private static void write(XContentBuilder b, ModelRegistry.Entry e) throws IOException {
        b.startObject();
        b.field("name", e.name());
        b.field("source", e.source().jsonName());
        b.field("path", e.directory().toString());
        b.field("loaded", e.loaded());
        if (e.loaded()) {
            b.field("loaded_at", e.loadedAt().truncatedTo(ChronoUnit.MILLIS).toString());
            b.field("generation", e.generation());
        }
        if (e.reloadFailure() != null) {
            b.startObject("reload_failure");
            b.field("time", e.reloadFailure().time().truncatedTo(ChronoUnit.MILLIS).toString());
            b.field("reason", e.reloadFailure().reason());
            b.endObject();
        }
        ModelConfig c = e.config();
        if (c == null) {
            b.field("usable", false);
            b.field("error", e.error());
        } else {
            b.field("usable", true);
            b.field("version", c.version());
            b.field("bits", c.bits());
            b.field("threshold", c.threshold());
            b.field("embedding_dim", c.embeddingDim());
            b.field("entry_points", c.entryPoints().keySet().stream().map(EntryPoint::jsonName).toList());
            b.field("text_encoder", c.textEncoder() == null ? null : c.textEncoder().jsonName());
            if (c.image() != null) {
                b.field("image_size", c.image().size());
            }
            b.field("sha256", c.sha256());
        }
        b.endObject();
    }
}
