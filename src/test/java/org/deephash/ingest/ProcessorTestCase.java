package org.deephash.ingest;

import org.deephash.DeepHashService;
import org.deephash.model.HashModel;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.ingest.IngestDocument;
import org.elasticsearch.ingest.Processor;
import org.elasticsearch.ingest.TestIngestDocument;
import org.elasticsearch.test.ESTestCase;
import org.junit.AfterClass;
import org.junit.BeforeClass;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The processor's tests without a cluster: the bundled model on a direct executor, documents as the ingest
 * service hands them over, and the model itself loaded beside it as the oracle.
 */
public abstract class ProcessorTestCase extends ESTestCase {
    private static final Path BUNDLED = Path.of("target/models");

    protected static DeepHashService service;
    protected static HashModel oracle;

    @BeforeClass
    public static void startService() throws IOException {
        service = new DeepHashService(Settings.EMPTY, BUNDLED, createTempDir(), EsExecutors.DIRECT_EXECUTOR_SERVICE, null);
        oracle = HashModel.load(BUNDLED.resolve("default"));
    }

    @AfterClass
    public static void stopService() {
        service.close();
        oracle.close();
        service = null;
        oracle = null;
    }

    /** Runs {@code processor} on {@code source} as the ingest service does; the document, or the failure thrown. */
    protected static IngestDocument run(Processor processor, Map<String, Object> source) throws Exception {
        IngestDocument document = TestIngestDocument.withDefaultVersion(new HashMap<>(source));
        AtomicReference<IngestDocument> result = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        processor.execute(document, (doc, e) -> {
            result.set(doc);
            failure.set(e);
        });
        if (failure.get() != null) {
            throw failure.get();
        }
        return result.get();
    }
}
