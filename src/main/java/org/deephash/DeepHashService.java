package org.deephash;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.deephash.model.HashModel;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.deephash.model.ModelRegistry.Change;
import org.elasticsearch.common.cache.Cache;
import org.elasticsearch.common.cache.CacheBuilder;
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
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.regex.Pattern;

/**
 * The node's hashing: the model registry, the inference thread pool, the node's settings for both,
 * and the statistics. Every hash a document, a query or the API asks for goes through {@link #hash}
 * so that it is timed and its failures are counted by kind.
 */
public final class DeepHashService implements Closeable {
    private static final Logger LOGGER = LogManager.getLogger(DeepHashService.class);
    public static final String THREAD_POOL = "deep_hash";
    /** Queries and the API hash here, so that a search never waits behind a bulk request's backlog. */
    public static final String SEARCH_THREAD_POOL = "deep_hash_search";
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

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
        return List.of(INTRA_OP_THREADS, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_TEXT_CHARS, TEXT_CACHE_SIZE, RELOAD_INTERVAL, MODELS_PATH);
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
            new FixedExecutorBuilder(settings, THREAD_POOL, processors, 10_000, "deep_hash.thread_pool", EsExecutors.TaskTrackingConfig.DO_NOT_TRACK),
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

    /**
     * The service of a node in this JVM, for query builders made in Java code rather than parsed or read
     * from the wire (those get theirs from the plugin); every node's service hashes alike.
     */
    private static volatile DeepHashService lastStarted;

    private final ModelRegistry registry;
    private final HashStats stats = new HashStats();
    private final ExecutorService executor;
    private final ExecutorService searchExecutor;
    private final long maxImageBytes;
    private final TimeValue reloadInterval;
    private volatile Scheduler.Cancellable reloadTask;
    /** The last periodic refresh's failure, so that a directory that stays unreadable is logged once, not every interval. */
    private String lastReloadError;

    public DeepHashService(Settings settings, Path bundledModels, Path userModels, ExecutorService executor, ExecutorService searchExecutor) {
        this(settings, bundledModels, userModels, executor, searchExecutor, Runnable::run);
    }

    /** @param closer where a replaced model is closed once its last call is done (on a node, the generic pool) */
    public DeepHashService(
        Settings settings,
        Path bundledModels,
        Path userModels,
        ExecutorService executor,
        ExecutorService searchExecutor,
        Executor closer
    ) {
        this.executor = executor;
        this.searchExecutor = searchExecutor;
        this.maxImageBytes = MAX_IMAGE_BYTES.get(settings).getBytes();
        int threads = INTRA_OP_THREADS.get(settings);
        long maxPixels = MAX_IMAGE_PIXELS.get(settings);
        int maxChars = MAX_TEXT_CHARS.get(settings);
        int cacheSize = TEXT_CACHE_SIZE.get(settings);
        this.reloadInterval = RELOAD_INTERVAL.get(settings);
        this.registry = new ModelRegistry(
            bundledModels,
            userModels,
            name -> new HashModel.Options(threads, maxImageBytes, maxPixels, maxChars, cacheSize == 0 ? null : sentenceCache(cacheSize)),
            Objects.requireNonNull(closer)
        );
        lastStarted = this;
    }

    /** A started node's service in this JVM, or null (see {@link #lastStarted}). */
    public static DeepHashService anyStarted() {
        return lastStarted;
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

    /** The pool that ingest inference runs on, off the transport and write threads. */
    public ExecutorService executor() {
        return executor;
    }

    /** The pool that queries and the API hash on. */
    public ExecutorService searchExecutor() {
        return searchExecutor;
    }

    /** The entry point for the inputs given: fused for both, else the one there is. */
    public static EntryPoint entryPoint(byte[] image, String text) {
        if (image != null && text != null) {
            return EntryPoint.FUSED;
        }
        if (image != null) {
            return EntryPoint.IMAGE;
        }
        if (text != null) {
            return EntryPoint.TEXT;
        }
        throw new InputException(InputException.Kind.MISSING_INPUT, "nothing to hash: expected an image, a text or both");
    }

    /**
     * Hashes one input with model {@code modelName}'s entry point {@code entry} (its inputs must be
     * there), timing the inference; a failure is counted by kind and rethrown.
     */
    public HashOutput hash(String modelName, EntryPoint entry, byte[] image, String text) {
        if ((entry.takesImage() && image == null) || (entry.takesText() && text == null)) {
            throw new IllegalArgumentException("the " + entry.jsonName() + " entry point needs "
                + (entry.takesImage() && entry.takesText() ? "an image and a text" : entry.takesImage() ? "an image" : "a text"));
        }
        return hashEach(modelName, image, text, EnumSet.of(entry)).get(entry);
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

    /**
     * Hashes one document's inputs with several entry points of model {@code modelName} in one call
     * (the picture decoded and the caption encoded once); the call's time is shared evenly among the
     * entry points in the statistics.
     */
    public Map<EntryPoint, HashOutput> hashEach(String modelName, byte[] image, String text, Set<EntryPoint> entryPoints) {
        return hashWithVersion(modelName, image, text, entryPoints).outputs();
    }

    /** What {@link #hashWithVersion} gives: the outputs, and the version of the model files that computed them. */
    public record Hashed(String version, Map<EntryPoint, HashOutput> outputs) {}

    /**
     * As {@link #hashEach}, with the {@code version} of {@code model.json} of the very model that ran:
     * a reload may replace the model between two calls, so asking the registry afterwards could name
     * the wrong one.
     */
    public Hashed hashWithVersion(String modelName, byte[] image, String text, Set<EntryPoint> entryPoints) {
        // The lease keeps the model open for this call even if a reload replaces it meanwhile.
        try (ModelRegistry.Lease lease = registry.acquire(modelName)) {
            HashModel model = lease.model();
            checkEntryPoints(modelName, model, entryPoints);
            long start = System.nanoTime();
            Map<EntryPoint, HashOutput> out = model.hashEach(image, text, entryPoints);
            long share = (System.nanoTime() - start) / Math.max(1, out.size());
            for (EntryPoint entry : out.keySet()) {
                stats.inference(entry, 1, share);
            }
            return new Hashed(model.config().version(), out);
        } catch (RuntimeException e) {
            stats.error(e);
            throw e;
        }
    }

    /**
     * Image bytes from base64 (standard or URL-safe alphabet, line breaks allowed, an optional
     * {@code data:image/...;base64,} prefix), refusing a string whose bytes would be over the image
     * limit before decoding it. {@code what} names the value in messages.
     */
    public byte[] decodeImage(String base64, String what) {
        String s = base64;
        if (s.startsWith("data:")) {
            int comma = s.indexOf(',');
            if (comma < 0 || s.substring(0, comma).toLowerCase(Locale.ROOT).endsWith(";base64") == false) {
                throw counted(new InputException(
                    InputException.Kind.BAD_BASE64,
                    what + " is a data URL without [;base64,]: expected base64 image bytes, e.g. [data:image/png;base64,iVBOR...]"
                ));
            }
            s = s.substring(comma + 1);
        }
        if ((long) s.length() / 4 * 3 > maxImageBytes + 3 * 1024L) {
            throw counted(new InputException(
                InputException.Kind.IMAGE_TOO_LARGE,
                what + " is [" + s.length() + "] base64 characters, about [" + ((long) s.length() / 4 * 3) + "] bytes, over the limit of ["
                    + maxImageBytes + "] bytes (" + MAX_IMAGE_BYTES.getKey() + ")"
            ));
        }
        // Line breaks and spaces are dropped; any other character outside the alphabet is an error (the
        // JDK's MIME decoder would skip it silently).
        s = WHITESPACE.matcher(s).replaceAll("");
        try {
            return s.indexOf('-') >= 0 || s.indexOf('_') >= 0 ? Base64.getUrlDecoder().decode(s) : Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            String start = s.length() > 24 ? s.substring(0, 24) + "..." : s;
            throw counted(new InputException(
                InputException.Kind.BAD_BASE64,
                what + " is not valid base64 (" + e.getMessage() + "): got [" + start + "], " + s.length() + " characters; expected the image bytes in base64",
                e
            ));
        }
    }

    /** Counts {@code e} in the statistics by its kind and returns it, to be thrown. */
    public InputException counted(InputException e) {
        stats.error(e);
        return e;
    }

    /** A counted {@link InputException.Kind#WRONG_TYPE}: "{what} is a {type}: expected {expected}". */
    public InputException wrongType(String what, Object value, String expected) {
        return counted(new InputException(InputException.Kind.WRONG_TYPE, what + " is a " + typeName(value) + ": expected " + expected));
    }

    /**
     * A caption from a document or request value: a string, or an array of strings (a label and
     * keywords, blank ones skipped) joined with ", " as the model was trained. {@code what} names the
     * value in messages.
     */
    public String caption(Object value, String what) {
        if (value instanceof String s) {
            return s;
        }
        if (value instanceof List<?> list) {
            List<String> parts = new ArrayList<>(list.size());
            for (Object o : list) {
                if (o instanceof String == false) {
                    throw counted(
                        new InputException(InputException.Kind.WRONG_TYPE, what + " has a " + typeName(o) + " in its array: expected strings")
                    );
                }
                if (((String) o).isBlank() == false) {
                    parts.add((String) o);
                }
            }
            return String.join(", ", parts);
        }
        throw wrongType(what, value, "a string or an array of strings");
    }

    private static String typeName(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Map) {
            return "object";
        }
        if (value instanceof List) {
            return "array";
        }
        if (value instanceof Number) {
            return "number [" + value + "]";
        }
        if (value instanceof Boolean) {
            return "boolean [" + value + "]";
        }
        return value.getClass().getSimpleName();
    }

    @Override
    public void close() {
        if (lastStarted == this) {
            lastStarted = null;
        }
        Scheduler.Cancellable task = reloadTask;
        if (task != null) {
            task.cancel();
        }
        registry.close();
    }
}
