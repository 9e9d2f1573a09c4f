package org.deephash.compat;

import org.elasticsearch.action.support.nodes.BaseNodesRequest;

/** A request fanned out to nodes; {@code BaseNodesRequest} lost its type parameter in Elasticsearch 9. */
public abstract class NodesRequest<R extends NodesRequest<R>> extends BaseNodesRequest {
    protected NodesRequest(String... nodeIds) {
        super(nodeIds);
    }
}
