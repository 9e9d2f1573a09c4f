package org.deephash.rest;

import org.deephash.compat.NodeTransportRequest;
import org.deephash.compat.NodesRequest;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.action.FailedNodeException;
import org.elasticsearch.action.support.TransportAction;
import org.elasticsearch.action.support.nodes.BaseNodeResponse;
import org.elasticsearch.action.support.nodes.BaseNodesResponse;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.cluster.node.DiscoveryNode;
import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.xcontent.ToXContentFragment;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/** {@code GET _deep_hash/stats}: every node's hashing counters ({@link org.deephash.model.HashStats}). */
public final class DeepHashStatsAction extends ActionType<DeepHashStatsAction.Response> {
    public static final DeepHashStatsAction INSTANCE = new DeepHashStatsAction();
    public static final String NAME = "cluster:monitor/deep_hash/stats";

    private DeepHashStatsAction() {
        super(NAME);
    }

    public static final class Request extends NodesRequest<Request> {
        public Request(String... nodeIds) {
            super(nodeIds);
        }
    }

    /** What goes to each node: nothing but the question. */
    public static final class NodeRequest extends NodeTransportRequest {
        public NodeRequest() {}

        public NodeRequest(StreamInput in) throws IOException {
            super(in);
        }
    }

    public static final class NodeResponse extends BaseNodeResponse {
        private final Map<String, Object> stats;

        public NodeResponse(DiscoveryNode node, Map<String, Object> stats) {
            super(node);
            this.stats = stats;
        }

        public NodeResponse(StreamInput in) throws IOException {
            super(in);
            this.stats = in.readGenericMap();
        }

        public Map<String, Object> stats() {
            return stats;
        }

        @Override
        public void writeTo(StreamOutput out) throws IOException {
            super.writeTo(out);
            out.writeGenericMap(stats);
        }
    }

    public static final class Response extends BaseNodesResponse<NodeResponse> implements ToXContentFragment {
        public Response(ClusterName clusterName, List<NodeResponse> nodes, List<FailedNodeException> failures) {
            super(clusterName, nodes, failures);
        }

        @Override
        protected List<NodeResponse> readNodesFrom(StreamInput in) throws IOException {
            return TransportAction.localOnly();
        }

        @Override
        protected void writeNodesTo(StreamOutput out, List<NodeResponse> nodes) throws IOException {
            TransportAction.localOnly();
        }

        @Override
        public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
            builder.startObject("nodes");
            for (NodeResponse node : getNodes()) {
                builder.startObject(node.getNode().getId());
                builder.field("name", node.getNode().getName());
                builder.mapContents(node.stats());
                builder.endObject();
            }
            builder.endObject();
            return builder;
        }
    }
}
