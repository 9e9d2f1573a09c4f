package org.deephash.compat;

import org.elasticsearch.cluster.metadata.ProjectId;
import org.elasticsearch.ingest.Processor;

import java.util.Map;

/** An ingest processor's factory; Elasticsearch 9 passes the project too, which the plugin does not use. */
public abstract class ProcessorFactory implements Processor.Factory {
    /** Reads the processor's settings from {@code config}, removing each one it takes. */
    public abstract Processor create(String tag, String description, Map<String, Object> config);

    @Override
    public final Processor create(
        Map<String, Processor.Factory> factories,
        String tag,
        String description,
        Map<String, Object> config,
        ProjectId projectId
    ) {
        return create(tag, description, config);
    }
}
