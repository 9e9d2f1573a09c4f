package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.model.HashOutput;
import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionRequestValidationException;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.xcontent.ToXContentObject;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * {@code POST _deep_hash/models/{name}/_hash}: what a model gives an input. Read-like (it reads a model
 * and changes nothing), named under {@code cluster:monitor/} so that the {@code monitor} cluster
 * privilege grants it, or a role that names exactly this action. Local only: it never crosses the wire.
 */
public final class HashAction {
    public static final String NAME = "cluster:monitor/deep_hash/models/hash";
    public static final ActionType<Response> INSTANCE = ActionType.localOnly(NAME);

    private HashAction() {}

    /** {@code text} and {@code image} as the body gave them (checked by the action, like the processor's). */
    public static final class Request extends ActionRequest {
        private final String model;
        private final Object text;
        private final Object image;

        public Request(String model, Object text, Object image) {
            this.model = model;
            this.text = text;
            this.image = image;
        }

        public String model() {
            return model;
        }

        public Object text() {
            return text;
        }

        public Object image() {
            return image;
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
        private final String model;
        private final DeepHashService.Hashed hashed;
        private final long tookMillis;

        public Response(String model, DeepHashService.Hashed hashed, long tookMillis) {
            this.model = model;
            this.hashed = hashed;
            this.tookMillis = tookMillis;
        }

        @Override
        public void writeTo(StreamOutput out) {
            TransportAction.localOnly();
        }

        @Override
        public XContentBuilder toXContent(XContentBuilder b, Params params) throws IOException {
            EntryPoint entry = hashed.entryPoint();
            Map<EntryPoint, HashOutput> outputs = hashed.outputs();
            HashOutput main = hashed.main();
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
            b.field("took_in_millis", tookMillis);
            return b.endObject();
        }
    }
}
