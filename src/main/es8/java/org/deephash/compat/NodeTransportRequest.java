package org.deephash.compat;

import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.transport.TransportRequest;

import java.io.IOException;

/** What a nodes action sends each node; {@code TransportRequest} became an interface in Elasticsearch 9. */
public abstract class NodeTransportRequest extends TransportRequest {
    protected NodeTransportRequest() {}

    protected NodeTransportRequest(StreamInput in) throws IOException {
        super(in);
    }
}
