package org.deephash;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.deephash.model.HashInput;
import org.deephash.model.HashModel;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.deephash.model.ModelRegistry.Change;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.ActionRunnable;
import org.elasticsearch.common.CheckedSupplier;
import org.elasticsearch.common.cache.Cache;
import org.elasticsearch.common.cache.CacheBuilder;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.common.settings.Setting.Property;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.unit.ByteSizeValue;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.core.TimeValue;
import org.elasticsearch.threadpool.ExecutorBuilder;
import org.elasticsearch.threadpool.FixedExecutorBuilder;
import org.elasticsearch.threadpool.Scheduler;
import org.elasticsearch.threadpool.ThreadPool;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;

/**
 * The node's hashing: the model registry, the inference thread pool, the node's settings for both,
 * and the statistics. Every hash a document, a query or the API asks for goes through {@link #input}
 * and {@link #hash}, so that it is timed, counted once for who asked, and its failures counted by kind.
 */
public final class DeepHashService implements Closeable {
    private static final Logger LOGGER = LogManager.getLogger(DeepHashService.class);
    public static final String THREAD_POOL = "deep_hash";
    /** Queries and the API hash here, so that a search never waits behind a bulk request's backlog. */
    public static final String SEARCH_THREAD_POOL = "deep_hash_search";

    public static final Setting<Integer> INTRA_OP_THREADS = Setting.intSetting(
        "deep_hash.inference.intra_op_threads",
        HashModel.DEFAULT_INTRA_OP_THREADS,
        1,
        HashModel.MAX_INTRA_OP_THREADS,
        Property.NodeScope
    );
    public static final Setting<ByteSizeValue> MAX_IMAGE_BYTES = Setting.byteSizeSetting(
        "deep_hash.image.max_bytes",
        ByteSizeValue.ofMb(10),
        ByteSizeValue.ofBytes(1),
        ByteSizeValue.ofMb(512),
        Property.NodeScope
    );
    public static final Setting<Long> MAX_IMAGE_PIXELS = Setting.longSetting(
        "deep_hash.image.max_pixels",
        4096L * 4096,
        1,
        Property.NodeScope
    );
    public static final Setting<Integer> MAX_TEXT_CHARS = Setting.intSetting(
        "deep_hash.text.max_chars",
        HashModel.DEFAULT_MAX_TEXT_CHARS,
        1,
        Property.NodeScope
    );
    /**
     * The most documents hashed in one inference call ({@link HashBatcher}); 1 hashes every document on
     * its own. Dynamic, so that batching can be turned off and on without a restart.
     */
    public static final Setting<Integer> BATCH_MAX_SIZE = Setting.intSetting(
        "deep_hash.batch.max_size",
        8,
        1,
        1024,
        Property.NodeScope,
        Property.Dynamic
    );
    /**
     * How long a batch that is not full may wait for more documents, counted from its oldest one's
     * arrival; only while another batch of the same model is running (a lone document never waits), and
     * only while documents keep arriving (a quarter of it without one ends the wait).
     */
    public static final Setting<TimeValue> BATCH_MAX_WAIT = Setting.timeSetting(
        "deep_hash.batch.max_wait",
        TimeValue.timeValueMillis(2),
        TimeValue.ZERO,
        TimeValue.timeValueSeconds(1),
        Property.NodeScope,
        Property.Dynamic
    );
    /** The ingest pool's queue: documents waiting to be hashed, batched or not. */
    static final int INGEST_QUEUE_SIZE = 10_000;

    /** Sentence embeddings remembered per model; 0 turns the cache off. */
    public static final Setting<Integer> TEXT_CACHE_SIZE = Setting.intSetting("deep_hash.text.cache_size", 10_000, 0, Property.NodeScope);

    /**
     * How often the node looks for new, replaced and removed models in its models directories
     * ({@link ModelRegistry#refresh()}); {@code -1} or {@code 0} turns it off (then only
     * {@code POST _deep_hash/models/_reload} does).
     */
    public static final Setting<TimeValue> RELOAD_INTERVAL = Setting.timeSetting(
        "deep_hash.models.reload_interval",
        TimeValue.timeValueSeconds(5),
        TimeValue.MINUS_ONE,
        Property.NodeScope
    );

    /** {@link #MODELS_PATH}'s default, under the config directory. */
    static final String DEFAULT_MODELS_PATH = "deep-hash/models";
    private static final String MODELS_PATH_KEY = "deep_hash.models.path";

    /**
     * The users' models directory, one subdirectory a model; relative to the config directory, as
     * Elasticsearch resolves its own config-relative paths. It may lie outside the config directory (a
     * read-only mount every node has): entitlement-policy.yaml grants reading the path this setting
     * names, which the node reads from elasticsearch.yml at startup, so the setting is not dynamic.
     */
    public static final Setting<String> MODELS_PATH = new Setting<>(
        MODELS_PATH_KEY,
        DEFAULT_MODELS_PATH,
        DeepHashService::parseModelsPath,
        Property.NodeScope
    );

    public static List<Setting<?>> settings() {
        return List.of(
            INTRA_OP_THREADS,
            MAX_IMAGE_BYTES,
            MAX_IMAGE_PIXELS,
            MAX_TEXT_CHARS,
            TEXT_CACHE_SIZE,
            BATCH_MAX_SIZE,
            BATCH_MAX_WAIT,
            RELOAD_INTERVAL,
            MODELS_PATH
        );
    }

    private static String parseModelsPath(String value) {
        if (value.isBlank()) {
            throw new IllegalArgumentException(
                "[" + MODELS_PATH_KEY + "] is empty: expected a directory, absolute or relative to the config directory (default ["
                    + DEFAULT_MODELS_PATH + "])"
            );
        }
        try {
            Path.of(value);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("[" + MODELS_PATH_KEY + "] is [" + value + "], which is not a path: " + e.getMessage(), e);
        }
        return value;
    }

    /**
     * The users' models directory that {@link #MODELS_PATH} names, resolved against {@code configDir}. A
     * path that is there but is not a directory stops the node with an error naming the setting and its
     * value; a missing one means no user models yet (a directory created there later is found by the
     * reload), and an unreadable one is logged here and by the reload until it can be read.
     */
    public static Path modelsPath(Settings settings, Path configDir) {
        String value = MODELS_PATH.get(settings);
        Path dir = configDir.resolve(value).toAbsolutePath().normalize();
        String named = "[" + MODELS_PATH_KEY + "] is [" + value + "]" + (Path.of(value).isAbsolute() ? "" : " (in [" + dir + "])");
        String origin = MODELS_PATH.exists(settings) == false ? "the default of [" + MODELS_PATH_KEY + "]"
            : value.equals(dir.toString()) ? "[" + MODELS_PATH_KEY + "]"
            : "[" + MODELS_PATH_KEY + "]: [" + value + "]";
        try {
            BasicFileAttributes attributes = Files.readAttributes(dir, BasicFileAttributes.class);
            if (attributes.isDirectory() == false) {
                throw new IllegalArgumentException(named + ", which is not a directory: point it at a directory holding one directory per model");
            }
            LOGGER.info("users' models are read from [{}] ({})", dir, origin);
        } catch (NoSuchFileException e) {
            LOGGER.info("no user models: [{}] ({}) does not exist; models copied there later are picked up by the reload", dir, origin);
        } catch (IOException e) {
            LOGGER.warn("cannot read the users' models directory [{}] ({}): {}", dir, origin, e.toString());
        }
        return dir;
    }

    /**
     * The ingest pool, as wide as the node's processors, whose queue takes a large bulk request's
     * documents at once; and the search pool for query rewrite and the API, half as wide, so that
     * queries are hashed while a bulk request is.
     */
    public static List<ExecutorBuilder<?>> executorBuilders(Settings settings) {
        int processors = EsExecutors.allocatedProcessors(settings);
        return List.of(
            new FixedExecutorBuilder(
                settings,
                THREAD_POOL,
                processors,
                INGEST_QUEUE_SIZE,
                "deep_hash.thread_pool",
                EsExecutors.TaskTrackingConfig.DO_NOT_TRACK
            ),
            new FixedExecutorBuilder(
                settings,
                SEARCH_THREAD_POOL,
                Math.max(1, processors / 2),
                1_000,
                "deep_hash_search.thread_pool",
                EsExecutors.TaskTrackingConfig.DO_NOT_TRACK
            )
        );
    }

    private final ModelRegistry registry;
    private final HashStats stats = new HashStats();
    private final ExecutorService searchExecutor;
    private final HashInput.Parser parser;
    private final HashBatcher<Lane, Job> batcher;
    private final TimeValue reloadInterval;
    private volatile Scheduler.Cancellable reloadTask;
    /** The last periodic refresh's failure, so that a directory that stays unreadable is logged once, not every interval. */
    private String lastReloadError;

    public DeepHashService(Settings settings, Path bundledModels, Path userModels, Executor executor, ExecutorService searchExecutor) {
        this(settings, bundledModels, userModels, executor, searchExecutor, Runnable::run);
    }

    /**
     * @param executor where ingest's batches run (on a node, the {@code deep_hash} pool)
     * @param closer   where a replaced model is closed once its last call is done (on a node, the generic pool)
     */
    public DeepHashService(
        Settings settings,
        Path bundledModels,
        Path userModels,
        Executor executor,
        ExecutorService searchExecutor,
        Executor closer
    ) {
        this.searchExecutor = searchExecutor;
        long maxImageBytes = MAX_IMAGE_BYTES.get(settings).getBytes();
        this.parser = new HashInput.Parser(maxImageBytes, MAX_IMAGE_BYTES.getKey());
        int threads = INTRA_OP_THREADS.get(settings);
        long maxPixels = MAX_IMAGE_PIXELS.get(settings);
        int maxChars = MAX_TEXT_CHARS.get(settings);
        int cacheSize = TEXT_CACHE_SIZE.get(settings);
        this.reloadInterval = RELOAD_INTERVAL.get(settings);
        // The pool's own size and queue settings (deep_hash.thread_pool.*) bound the batcher's workers and queue.
        int workers = settings.getAsInt("deep_hash.thread_pool.size", EsExecutors.allocatedProcessors(settings));
        int queueSize = settings.getAsInt("deep_hash.thread_pool.queue_size", INGEST_QUEUE_SIZE);
        this.batcher = new HashBatcher<>(
            THREAD_POOL,
            executor,
            Math.max(1, workers),
            queueSize < 0 ? Integer.MAX_VALUE : Math.max(1, queueSize),
            BATCH_MAX_SIZE.get(settings),
            BATCH_MAX_WAIT.get(settings).nanos(),
            this::runBatch,
            (job, e) -> job.listener().onFailure(counted(e)),
            System::nanoTime
        );
        this.registry = new ModelRegistry(
            bundledModels,
            userModels,
            name -> new HashModel.Options(threads, maxImageBytes, maxPixels, maxChars, cacheSize == 0 ? null : sentenceCache(cacheSize)),
            Objects.requireNonNull(closer)
        );
    }

    private static HashModel.SentenceCache sentenceCache(int size) {
        Cache<String, float[]> cache = CacheBuilder.<String, float[]>builder().setMaximumWeight(size).build();
        return new HashModel.SentenceCache() {
            @Override
            public float[] get(String text) {
                return cache.get(text);
            }

            @Override
            public void put(String text, float[] embedding) {
                cache.put(text, embedding);
            }
        };
    }

    /** Follows {@link #BATCH_MAX_SIZE} and {@link #BATCH_MAX_WAIT} when the cluster settings change them. */
    public void watchSettings(ClusterSettings clusterSettings) {
        clusterSettings.addSettingsUpdateConsumer(BATCH_MAX_SIZE, BATCH_MAX_WAIT, (size, wait) -> batcher.setLimits(size, wait.nanos()));
    }

    public ModelRegistry registry() {
        return registry;
    }

    /**
     * Looks at the models directories every {@link #RELOAD_INTERVAL} on the generic pool (a reload
     * reads and checks a model's files and starts its ONNX sessions: seconds, off every request path).
     */
    public void startReloading(ThreadPool threadPool) {
        if (reloadInterval.millis() <= 0) {
            LOGGER.info("models are not reloaded periodically ({} is [{}]): use POST _deep_hash/models/_reload", RELOAD_INTERVAL.getKey(), reloadInterval);
            return;
        }
        reloadTask = threadPool.scheduleWithFixedDelay(this::periodicReload, reloadInterval, threadPool.generic());
    }

    private void periodicReload() {
        try {
            reloadModels();
            lastReloadError = null;
        } catch (RuntimeException e) {
            if (e.getMessage() == null || e.getMessage().equals(lastReloadError) == false) {
                LOGGER.warn("cannot look for changed models; tried again every [" + reloadInterval + "]", e);
            }
            lastReloadError = e.getMessage();
        }
    }

    /** {@link ModelRegistry#refresh()}, each change logged. */
    public List<Change> reloadModels() {
        List<Change> changes = registry.refresh();
        for (Change c : changes) {
            switch (c.kind()) {
                case ADDED -> LOGGER.info("model [{}] added in [{}]: it loads at its first use", c.name(), c.directory());
                case REMOVED -> LOGGER.info("model [{}] removed{}", c.name(), c.previousVersion() == null ? "" : ": version [" + c.previousVersion() + "] unloaded");
                case MOVED -> LOGGER.info("model [{}] is now the one in [{}]: it loads at its first use", c.name(), c.directory());
                case RELOADED -> LOGGER.info(
                    "model [{}] reloaded from [{}]: version [{}] (generation {}) replaces version [{}]",
                    c.name(),
                    c.directory(),
                    c.version(),
                    c.generation(),
                    c.previousVersion()
                );
                case RELOAD_FAILED -> LOGGER.warn("{}", c.reason());
            }
        }
        return changes;
    }

    public HashStats stats() {
        return stats;
    }

    /**
     * Runs {@code work} on the pool that queries and the API hash on (never behind a bulk request's backlog) and
     * answers {@code listener} with its result or failure; a full queue answers it with the rejection.
     */
    public <T> void onSearchPool(CheckedSupplier<T, Exception> work, ActionListener<T> listener) {
        try {
            searchExecutor.execute(ActionRunnable.supply(listener, work));
        } catch (RuntimeException rejected) {
            listener.onFailure(rejected);
        }
    }

    /**
     * Parses the values a document, query or request sends ({@link HashInput.Parser#parse}) under this
     * node's image limit; a bad value is counted by kind and rethrown.
     */
    public HashInput input(Object image, String imageWhat, Object text, String textWhat) {
        try {
            return parser.parse(image, imageWhat, text, textWhat);
        } catch (InputException e) {
            throw counted(e);
        }
    }

    /** What {@link #hash} gives: the version of the model files that ran, the inputs' entry point and every output. */
    public record Hashed(String version, EntryPoint entryPoint, Map<EntryPoint, HashOutput> outputs) {
        /** The output of the inputs' own entry point (fused for both). */
        public HashOutput main() {
            return outputs.get(entryPoint);
        }
    }

    /**
     * Hashes {@code input} with model {@code modelName}'s entry point for those inputs, and with each
     * of {@code also} (their inputs must be there) in the same call: the picture decoded and the caption
     * encoded once. Each entry point's inference is timed on its own ({@link HashModel#hashEach(byte[], String, Set, Map)}),
     * one item is counted for {@code caller}, and a failure is counted by kind and rethrown. This is the
     * latency-first path of queries and the API: it never waits for a batch.
     *
     * <p>The {@code version} is the one of {@code model.json} of the very model that ran: a reload may
     * replace the model between two calls, so asking the registry afterwards could name the wrong one.
     */
    public Hashed hash(String modelName, HashInput input, Set<EntryPoint> also, HashStats.Caller caller) {
        long start = System.nanoTime();
        Set<EntryPoint> entryPoints = entryPoints(input, also);
        try (ModelRegistry.Lease lease = registry.acquire(modelName)) {
            HashModel model = lease.model();
            checkEntryPoints(modelName, model, entryPoints);
            Map<EntryPoint, Long> nanos = new EnumMap<>(EntryPoint.class);
            Map<EntryPoint, HashOutput> out;
            try {
                out = model.hashEach(input.image(), input.text(), entryPoints, nanos);
            } finally {
                nanos.forEach((entry, time) -> stats.inference(entry, 1, time));
            }
            stats.hashed(caller, 1);
            return new Hashed(model.config().version(), input.entryPoint(), out);
        } catch (RuntimeException e) {
            stats.error(e);
            throw e;
        } finally {
            stats.latency(caller, System.nanoTime() - start);
        }
    }

    /** The inputs' own entry point and each of {@code also}, whose inputs must be there. */
    private static Set<EntryPoint> entryPoints(HashInput input, Set<EntryPoint> also) {
        Set<EntryPoint> entryPoints = EnumSet.of(input.entryPoint());
        for (EntryPoint entry : also) {
            if ((entry.takesImage() && input.image() == null) || (entry.takesText() && input.text() == null)) {
                throw new IllegalArgumentException("the " + entry.jsonName() + " entry point needs "
                    + (entry.takesImage() && entry.takesText() ? "an image and a text" : entry.takesImage() ? "an image" : "a text"));
            }
            entryPoints.add(entry);
        }
        return entryPoints;
    }

    /** Documents that can share an inference call: the same model, the same entry points. */
    private record Lane(String model, Set<EntryPoint> entryPoints) {}

    /** One document waiting for its batch. */
    private record Job(HashInput input, ActionListener<Hashed> listener) {}

    /**
     * Ingest's hashing: what {@link #hash} gives for a document, but the document joins a batch of the
     * documents that are being hashed with the same model and entry points ({@link HashBatcher},
     * {@link #BATCH_MAX_SIZE}, {@link #BATCH_MAX_WAIT}), hashed in one inference call on the
     * {@code deep_hash} pool. A document's codes and embedding are the ones it gets alone; one that
     * cannot be hashed (a corrupt picture, a text over the limit) fails alone. {@code listener} is called
     * on a {@code deep_hash} thread, or on this one when the queue is full ({@code EsRejectedExecutionException}, a 429).
     */
    public void hashBatched(String modelName, HashInput input, Set<EntryPoint> also, ActionListener<Hashed> listener) {
        try {
            batcher.submit(new Lane(modelName, entryPoints(input, also)), new Job(input, listener));
        } catch (RuntimeException e) {
            listener.onFailure(counted(e));
        }
    }

    /**
     * {@link HashStats#snapshot()} with the batcher's caps now and the documents waiting in it at the head
     * of {@code batching}: the node's part of {@code GET _deep_hash/stats}.
     */
    @SuppressWarnings("unchecked")
    public Map<String, Object> statsSnapshot() {
        Map<String, Object> out = stats.snapshot();
        Map<String, Object> batching = new LinkedHashMap<>();
        batching.put("max_size", batcher.maxSize());
        batching.put("max_wait_in_millis", batcher.maxWaitNanos() / 1e6);
        batching.put("queued", batcher.queued());
        batching.putAll((Map<String, Object>) out.get("batching"));
        out.put("batching", batching);
        return out;
    }

    /** Runs one batch of a lane: every job is completed, after the model's lease is given back. */
    private void runBatch(Lane lane, List<HashBatcher.Queued<Job>> batch) {
        long started = System.nanoTime();
        stats.batch(batch.size());
        for (HashBatcher.Queued<Job> q : batch) {
            stats.batchWait(started - q.queuedAtNanos());
        }
        int n = batch.size();
        Object[] outcomes = new Object[n];
        boolean needsImage = lane.entryPoints().stream().anyMatch(EntryPoint::takesImage);
        boolean needsText = lane.entryPoints().stream().anyMatch(EntryPoint::takesText);
        try (ModelRegistry.Lease lease = registry.acquire(lane.model())) {
            HashModel model = lease.model();
            checkEntryPoints(lane.model(), model, lane.entryPoints());
            List<byte[]> images = needsImage ? new ArrayList<>(n) : null;
            List<String> texts = needsText ? new ArrayList<>(n) : null;
            for (HashBatcher.Queued<Job> q : batch) {
                if (needsImage) {
                    images.add(q.item().input().image());
                }
                if (needsText) {
                    texts.add(q.item().input().text());
                }
            }
            Map<EntryPoint, Long> nanos = new EnumMap<>(EntryPoint.class);
            List<HashModel.Item> items = model.hashBatch(images, texts, lane.entryPoints(), nanos);
            int hashed = (int) items.stream().filter(item -> item.failure() == null).count();
            nanos.forEach((entry, time) -> stats.inference(entry, hashed, time));
            String version = model.config().version();
            for (int i = 0; i < n; i++) {
                HashModel.Item item = items.get(i);
                EntryPoint main = batch.get(i).item().input().entryPoint();
                outcomes[i] = item.failure() != null ? item.failure() : new Hashed(version, main, item.outputs());
            }
        } catch (RuntimeException e) {
            Arrays.fill(outcomes, e);
        }
        for (int i = 0; i < n; i++) {
            Job job = batch.get(i).item();
            stats.latency(HashStats.Caller.INGEST, System.nanoTime() - batch.get(i).queuedAtNanos());
            try {
                if (outcomes[i] instanceof Hashed hashed) {
                    stats.hashed(HashStats.Caller.INGEST, 1);
                    job.listener().onResponse(hashed);
                } else {
                    Exception e = (Exception) outcomes[i];
                    stats.error(e);
                    job.listener().onFailure(e);
                }
            } catch (RuntimeException e) {
                LOGGER.warn("a document's listener failed after hashing", e);
            }
        }
    }

    /** Model {@code modelName}'s entry points must include every one in {@code entryPoints}. */
    private static void checkEntryPoints(String modelName, HashModel model, Set<EntryPoint> entryPoints) {
        for (EntryPoint entry : entryPoints) {
            if (model.has(entry) == false) {
                throw new InputException(
                    InputException.Kind.UNSUPPORTED_INPUT,
                    "model [" + modelName + "] has no " + entry.jsonName() + " entry point: it hashes "
                        + model.config().entryPoints().keySet().stream().map(EntryPoint::jsonName).toList()
                );
            }
        }
    }

    /** Counts {@code e} in the statistics by its kind and returns it, to be thrown. */
    public <E extends Exception> E counted(E e) {
        stats.error(e);
        return e;
    }

    @Override
    public void close() {
        Scheduler.Cancellable task = reloadTask;
        if (task != null) {
            task.cancel();
        }
        registry.close();
    }
}
