package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.model.HashInput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.ResourceNotFoundException;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.support.ActionFilters;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.common.CheckedSupplier;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.injection.guice.Inject;
import org.elasticsearch.tasks.Task;
import org.elasticsearch.transport.TransportService;

import java.util.EnumSet;
import java.util.List;

/** The local actions behind {@code GET _deep_hash/models} and {@code _hash}, run on the {@code deep_hash_search} pool. */
public final class TransportModelActions {
    private TransportModelActions() {}

    /** {@link DeepHashService#onSearchPool}, with an unknown model answered 404 (other bad input stays 400). */
    static <Resp> void onSearchPool(DeepHashService service, CheckedSupplier<Resp, Exception> work, ActionListener<Resp> listener) {
        service.onSearchPool(work, listener.delegateResponse((l, e) -> l.onFailure(notFoundIfUnknownModel(e))));
    }

    static Exception notFoundIfUnknownModel(Exception e) {
        return e instanceof InputException input && input.kind() == InputException.Kind.UNKNOWN_MODEL
            ? new ResourceNotFoundException(e.getMessage())
            : e;
    }

    /** The models of this node, or the one named (404 when there is none of that name). */
    static GetModelsAction.Response models(DeepHashService service, GetModelsAction.Request request) {
        List<ModelRegistry.Entry> entries = service.registry().list();
        String name = request.name();
        if (name != null) {
            ModelRegistry.checkName(name);
            entries = entries.stream().filter(e -> e.name().equals(name)).toList();
            if (entries.isEmpty()) {
                throw new ResourceNotFoundException("unknown model [" + name + "]: the models here are " + service.registry().names());
            }
        }
        return new GetModelsAction.Response(entries);
    }

    /** The code (and with both inputs each modality's) that the named model gives the request's inputs. */
    static HashAction.Response hash(DeepHashService service, HashAction.Request request) throws Exception {
        long start = System.nanoTime();
        HashInput input = service.input(request.image(), "[_hash] [image]", request.text(), "[_hash] [text]");
        EntryPoint entry = input.entryPoint();
        // With both inputs, the per-modality codes too: one call, one decode and one caption encoding.
        DeepHashService.Hashed hashed;
        try {
            hashed = service.hash(
                request.model(),
                input,
                entry == EntryPoint.FUSED ? EnumSet.allOf(EntryPoint.class) : EnumSet.noneOf(EntryPoint.class),
                HashStats.Caller.API
            );
        } catch (InputException e) {
            throw input.named(e, "[_hash] [image]", "[_hash] [text]");
        }
        return new HashAction.Response(request.model(), hashed, (System.nanoTime() - start) / 1_000_000);
    }

    public static final class GetModels extends TransportAction<GetModelsAction.Request, GetModelsAction.Response> {
        private final DeepHashService service;

        @Inject
        public GetModels(TransportService transportService, ActionFilters actionFilters, DeepHashService service) {
            super(GetModelsAction.NAME, actionFilters, transportService.getTaskManager(), EsExecutors.DIRECT_EXECUTOR_SERVICE);
            this.service = service;
        }

        @Override
        protected void doExecute(Task task, GetModelsAction.Request request, ActionListener<GetModelsAction.Response> listener) {
            onSearchPool(service, () -> models(service, request), listener);
        }
    }

    public static final class Hash extends TransportAction<HashAction.Request, HashAction.Response> {
        private final DeepHashService service;

        @Inject
        public Hash(TransportService transportService, ActionFilters actionFilters, DeepHashService service) {
            super(HashAction.NAME, actionFilters, transportService.getTaskManager(), EsExecutors.DIRECT_EXECUTOR_SERVICE);
            this.service = service;
        }

        @Override
        protected void doExecute(Task task, HashAction.Request request, ActionListener<HashAction.Response> listener) {
            onSearchPool(service, () -> hash(service, request), listener);
        }
    }
}
