package org.deephash.rest;

import org.deephash.compat.NodeTransportRequest;
import org.deephash.compat.NodesRequest;
import org.deephash.model.ModelRegistry;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code POST _deep_hash/models/_reload}: every node looks at its models directories now
 * ({@link ModelRegistry#refresh()}) and says what changed. When the call returns, each node that
 * answered serves what its directories held when it looked.
 */
public final class ReloadModelsAction extends ActionType<ReloadModelsAction.Response> {
    public static final ReloadModelsAction INSTANCE = new ReloadModelsAction();
    public static final String NAME = "cluster:admin/deep_hash/models/reload";

    private ReloadModelsAction() {
        super(NAME);
    }

    public static final class Request extends NodesRequest<Request> {
        public Request(String... nodeIds) {
            super(nodeIds);
        }
    }

    /** What goes to each node: nothing but the order to look. */
    public static final class NodeRequest extends NodeTransportRequest {
        public NodeRequest() {}

        public NodeRequest(StreamInput in) throws IOException {
            super(in);
        }
    }

    public static final class NodeResponse extends BaseNodeResponse {
        private final List<Map<String, Object>> changes;

        public NodeResponse(DiscoveryNode node, List<Map<String, Object>> changes) {
            super(node);
            this.changes = changes;
        }

        public NodeResponse(StreamInput in) throws IOException {
            super(in);
            this.changes = in.readCollectionAsList(StreamInput::readGenericMap);
        }

        public List<Map<String, Object>> changes() {
            return changes;
        }

        @Override
        public void writeTo(StreamOutput out) throws IOException {
            super.writeTo(out);
            out.writeCollection(changes, StreamOutput::writeGenericMap);
        }
    }

    /** One change as it goes over the wire and into the response; absent values are left out. */
    public static Map<String, Object> toMap(ModelRegistry.Change c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("change", c.kind().jsonName());
        if (c.source() != null) {
            m.put("source", c.source().jsonName());
        }
        if (c.directory() != null) {
            m.put("path", c.directory().toString());
        }
        if (c.version() != null) {
            m.put("version", c.version());
        }
        if (c.previousVersion() != null) {
            m.put("previous_version", c.previousVersion());
        }
        if (c.generation() > 0) {
            m.put("generation", c.generation());
        }
        if (c.reason() != null) {
            m.put("reason", c.reason());
        }
        return m;
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
                builder.field("changes", node.changes());
                builder.endObject();
            }
            builder.endObject();
            return builder;
        }
    }
}
