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

/** Collects {@link DeepHashStatsAction} from every node asked. */
public final class TransportDeepHashStatsAction extends TransportNodesAction<
    DeepHashStatsAction.Request,
    DeepHashStatsAction.Response,
    DeepHashStatsAction.NodeRequest,
    DeepHashStatsAction.NodeResponse,
    Void> {

    private final DeepHashService service;

    @Inject
    public TransportDeepHashStatsAction(
        TransportService transportService,
        ClusterService clusterService,
        ThreadPool threadPool,
        ActionFilters actionFilters,
        DeepHashService service
    ) {
        super(
            DeepHashStatsAction.NAME,
            clusterService,
            transportService,
            actionFilters,
            DeepHashStatsAction.NodeRequest::new,
            threadPool.executor(ThreadPool.Names.MANAGEMENT)
        );
        this.service = service;
    }

    @Override
    protected DeepHashStatsAction.Response newResponse(
        DeepHashStatsAction.Request request,
        List<DeepHashStatsAction.NodeResponse> nodes,
        List<FailedNodeException> failures
    ) {
        return new DeepHashStatsAction.Response(clusterService.getClusterName(), nodes, failures);
    }

    @Override
    protected DeepHashStatsAction.NodeRequest newNodeRequest(DeepHashStatsAction.Request request) {
        return new DeepHashStatsAction.NodeRequest();
    }

    @Override
    protected DeepHashStatsAction.NodeResponse newNodeResponse(StreamInput in, DiscoveryNode node) throws IOException {
        return new DeepHashStatsAction.NodeResponse(in);
    }

    @Override
    protected DeepHashStatsAction.NodeResponse nodeOperation(DeepHashStatsAction.NodeRequest request, Task task) {
        return new DeepHashStatsAction.NodeResponse(clusterService.localNode(), service.statsSnapshot());
    }
}
