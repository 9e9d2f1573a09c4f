package org.deephash.rest;

import org.deephash.model.ModelConfig;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionRequestValidationException;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.xcontent.ToXContentObject;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * {@code GET _deep_hash/models[/{name}]}: the models of the node that answers. An action (rather than work
 * done in the REST handler) so that security authorizes it: {@code cluster:monitor/...}, which the
 * {@code monitor} cluster privilege grants. Local only: it never crosses the wire.
 */
public final class GetModelsAction {
    public static final String NAME = "cluster:monitor/deep_hash/models/get";
    public static final ActionType<Response> INSTANCE = ActionType.localOnly(NAME);

    private GetModelsAction() {}

    /** {@code name} null for every model. */
    public static final class Request extends ActionRequest {
        private final String name;

        public Request(String name) {
            this.name = name;
        }

        public String name() {
            return name;
        }

        @Override
        public ActionRequestValidationException validate() {
            return null;
        }

        @Override
        public void writeTo(StreamOutput out) {
            TransportAction.localOnly();
        }
    }

    public static final class Response extends ActionResponse implements ToXContentObject {
        private final List<ModelRegistry.Entry> models;

        public Response(List<ModelRegistry.Entry> models) {
            this.models = models;
        }

        public List<ModelRegistry.Entry> models() {
            return models;
        }

        @Override
        public void writeTo(StreamOutput out) {
            TransportAction.localOnly();
        }

        @Override
        public XContentBuilder toXContent(XContentBuilder b, Params params) throws IOException {
            b.startObject().startArray("models");
            for (ModelRegistry.Entry e : models) {
                write(b, e);
            }
            return b.endArray().endObject();
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
}
