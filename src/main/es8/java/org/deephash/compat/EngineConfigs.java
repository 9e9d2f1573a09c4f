package org.deephash.compat;

import org.elasticsearch.index.codec.CodecProvider;
import org.elasticsearch.index.engine.EngineConfig;

/** Elasticsearch's {@link EngineConfig}, whose constructor grows with each release. */
public final class EngineConfigs {
    private EngineConfigs() {}

    /** A copy of {@code c} with another codec provider; every other argument is the original's. */
    public static EngineConfig withCodecProvider(EngineConfig c, CodecProvider codecs) {
        EngineConfig copy = new EngineConfig(
            c.getShardId(),
            c.getThreadPool(),
            c.getThreadPoolMergeExecutorService(),
            c.getIndexSettings(),
            c.getWarmer(),
            c.getStore(),
            c.getMergePolicy(),
            c.getAnalyzer(),
            c.getSimilarity(),
            codecs,
            c.getEventListener(),
            c.getQueryCache(),
            c.getQueryCachingPolicy(),
            c.getTranslogConfig(),
            c.getFlushMergesAfter(),
            c.getExternalRefreshListener(),
            c.getInternalRefreshListener(),
            c.getIndexSort(),
            c.getCircuitBreakerService(),
            c.getGlobalCheckpointSupplier(),
            c.retentionLeasesSupplier(),
            c.getPrimaryTermSupplier(),
            c.getSnapshotCommitSupplier(),
            c.getLeafSorter(),
            c.getRelativeTimeInNanosSupplier(),
            c.getIndexCommitListener(),
            c.isPromotableToPrimary(),
            c.getMapperService()
        );
        // Not a constructor argument, but state the engine reads.
        copy.setEnableGcDeletes(c.isEnableGcDeletes());
        return copy;
    }
}
