package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.model.InputException;
import org.elasticsearch.ResourceNotFoundException;
import org.elasticsearch.common.CheckedSupplier;
import org.elasticsearch.rest.RestChannel;
import org.elasticsearch.rest.RestResponse;

/** Runs a REST handler's work on the {@code deep_hash} pool and answers errors with their proper status. */
final class RestSupport {
    private RestSupport() {}

    static void fork(DeepHashService service, RestChannel channel, CheckedSupplier<RestResponse, Exception> work) {
        try {
            service.searchExecutor().execute(() -> {
                RestResponse response;
                try {
                    response = work.get();
                } catch (Exception e) {
                    sendError(channel, e);
                    return;
                }
                channel.sendResponse(response);
            });
        } catch (RuntimeException rejected) {
            sendError(channel, rejected);
        }
    }

    static void sendError(RestChannel channel, Exception e) {
        Exception mapped = e instanceof InputException input && input.kind() == InputException.Kind.UNKNOWN_MODEL
            ? new ResourceNotFoundException(e.getMessage())
            : e;
        try {
            channel.sendResponse(new RestResponse(channel, mapped));
        } catch (Exception inner) {
            inner.addSuppressed(e);
            throw new IllegalStateException("cannot send the error response", inner);
        }
    }
}
