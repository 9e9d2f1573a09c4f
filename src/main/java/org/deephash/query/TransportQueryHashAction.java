package org.deephash.query;

import org.deephash.DeepHashService;
import org.deephash.model.HashInput;
import org.deephash.model.InputException;
import org.deephash.model.HashStats;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.support.ActionFilters;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.injection.guice.Inject;
import org.elasticsearch.tasks.Task;
import org.elasticsearch.transport.TransportService;

import java.util.Set;

/** Runs {@link QueryHashAction} on the {@code deep_hash_search} pool, so that a search never waits behind a bulk request's backlog. */
public final class TransportQueryHashAction extends TransportAction<QueryHashAction.Request, QueryHashAction.Response> {
    private final DeepHashService service;

    @Inject
    public TransportQueryHashAction(TransportService transportService, ActionFilters actionFilters, DeepHashService service) {
        super(QueryHashAction.NAME, actionFilters, transportService.getTaskManager(), EsExecutors.DIRECT_EXECUTOR_SERVICE);
        this.service = service;
    }

    @Override
    protected void doExecute(Task task, QueryHashAction.Request request, ActionListener<QueryHashAction.Response> listener) {
        String what = "[" + HammingQueryBuilder.NAME + "] query ";
        service.onSearchPool(() -> {
            HashInput input = service.input(request.image(), what + "[image]", request.text(), what + "[text]");
            try {
                return new QueryHashAction.Response(service.hash(request.model(), input, Set.of(), HashStats.Caller.QUERY).main());
            } catch (InputException e) {
                throw input.named(e, what + "[image]", what + "[text]");
            }
        }, listener);
    }
}
