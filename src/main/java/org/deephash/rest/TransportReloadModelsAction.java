package org.deephash.rest;

import org.deephash.DeepHashService;
import org.elasticsearch.action.FailedNodeException;
import org.elasticsearch.action.support.ActionFilters;
import org.elasticsearch.action.support.nodes.TransportNodesAction;
import org.elasticsearch.cluster.node.DiscoveryNode;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.injection.guice.Inject;
import org.elasticsearch.tasks.Task;
import org.elasticsearch.threadpool.ThreadPool;
import org.elasticsearch.transport.TransportService;

import java.io.IOException;
import java.util.List;

/**
 * Runs {@link ReloadModelsAction} on every node asked, on the generic pool (a reload reads and
 * checks a model's files and starts its ONNX sessions).
 */
public final class TransportReloadModelsAction extends TransportNodesAction<
    ReloadModelsAction.Request,
    ReloadModelsAction.Response,
    ReloadModelsAction.NodeRequest,
    ReloadModelsAction.NodeResponse,
    Void> {

    private final DeepHashService service;

    @Inject
    public TransportReloadModelsAction(
        TransportService transportService,
        ClusterService clusterService,
        ThreadPool threadPool,
        ActionFilters actionFilters,
        DeepHashService service
    ) {
        super(
            ReloadModelsAction.NAME,
            clusterService,
            transportService,
            actionFilters,
            ReloadModelsAction.NodeRequest::new,
            threadPool.generic()
        );
        this.service = service;
    }

    @Override
    protected ReloadModelsAction.Response newResponse(
        ReloadModelsAction.Request request,
        List<ReloadModelsAction.NodeResponse> nodes,
        List<FailedNodeException> failures
    ) {
        return new ReloadModelsAction.Response(clusterService.getClusterName(), nodes, failures);
    }

    @Override
    protected ReloadModelsAction.NodeRequest newNodeRequest(ReloadModelsAction.Request request) {
        return new ReloadModelsAction.NodeRequest();
    }

    @Override
    protected ReloadModelsAction.NodeResponse newNodeResponse(StreamInput in, DiscoveryNode node) throws IOException {
        return new ReloadModelsAction.NodeResponse(in);
    }

    @Override
    protected ReloadModelsAction.NodeResponse nodeOperation(ReloadModelsAction.NodeRequest request, Task task) {
        return new ReloadModelsAction.NodeResponse(
            clusterService.localNode(),
            service.reloadModels().stream().map(ReloadModelsAction::toMap).toList()
        );
    }
}
