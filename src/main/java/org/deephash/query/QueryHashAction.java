package org.deephash.query;

import org.deephash.model.HashOutput;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionRequestValidationException;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.common.io.stream.StreamOutput;

/**
 * Hashes a {@code hamming} query's text and/or image on the node that rewrites the query (the
 * coordinating node), with that node's service. Why an action: the rewrite gets a client, not the
 * plugin's components, and a query builder made in Java (not parsed) has no other way to the node's
 * service. Local only: it never crosses the wire.
 *
 * <p>Named {@code internal:}: with security on, an internal action that a user's action (here the search)
 * calls runs as Elasticsearch's system user, whose privileges cover {@code internal:*}, so a user who may
 * search may search by text and picture without a privilege of ours. Under {@code cluster:internal/} it
 * would be checked against the user's own privileges, which a search role never has.
 */
public final class QueryHashAction {
    public static final String NAME = "internal:deep_hash/query/hash";
    public static final ActionType<Response> INSTANCE = ActionType.localOnly(NAME);

    private QueryHashAction() {}

    /** {@code image} is base64 as the query gave it; either may be null, not both. */
    public static final class Request extends ActionRequest {
        private final String model;
        private final String text;
        private final String image;

        public Request(String model, String text, String image) {
            this.model = model;
            this.text = text;
            this.image = image;
        }

        public String model() {
            return model;
        }

        public String text() {
            return text;
        }

        public String image() {
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

    public static final class Response extends ActionResponse {
        private final HashOutput output;

        public Response(HashOutput output) {
            this.output = output;
        }

        public HashOutput output() {
            return output;
        }

        @Override
        public void writeTo(StreamOutput out) {
            TransportAction.localOnly();
        }
    }
}
