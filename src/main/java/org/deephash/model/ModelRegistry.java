package org.deephash.model;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The models a node can hash with, by name: the models bundled with the plugin, and users' models in
 * a directory of their own (on a node, {@code <name>/} in the directory {@code deep_hash.models.path}
 * names, by default {@code $ES_PATH_CONF/deep-hash/models/}), each a
 * directory with a {@code model.json} and the ONNX files it names. A user's model of the same name
 * as a bundled one takes its place, so a node can swap the {@code default} model without a new plugin.
 *
 * <p>Each model is loaded once, at its first use, and shared: its sessions are thread-safe. A model
 * that cannot be loaded (a bad model.json, a checksum that does not match, ONNX that ONNX Runtime
 * refuses) is an {@link InputException} of kind {@link InputException.Kind#MODEL_UNAVAILABLE} for
 * the callers that ask for it, and is tried again at the next call; every other model keeps working.
 *
 * <p>Models change on disk while the node runs; {@link #refresh()} (which the plugin calls
 * periodically and on request) brings the registry up to date:
 * <ul>
 *   <li>a new directory is only listed: it loads at its first use, like any model;
 *   <li>a loaded model whose files changed (a {@link Fingerprint} of names, sizes, modification times
 *       and file identities, and of model.json's bytes) is loaded anew and checked as at first use;
 *       only a model that passes every check is swapped in, and the one it replaces is closed once
 *       the calls that hold it are done. A model whose new files fail keeps serving its old version;
 *       the failure is recorded ({@link Entry#reloadFailure()}) and the same files are not tried
 *       again, changed files are;
 *   <li>a removed directory unloads its model, or, for a user model that took a bundled one's name,
 *       puts the bundled model back.
 * </ul>
 * Callers hold a model through a {@link Lease}, so that a refresh never closes a model under a call;
 * a call that starts after a swap gets the new model.
 */
public final class ModelRegistry implements Closeable {
    private static final Logger LOGGER = LogManager.getLogger(ModelRegistry.class);
    public static final String DEFAULT_MODEL = "default";
    /** Lower-case letters, digits, '_' and '-', starting with a letter or digit: a directory name and nothing more. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
    /** How deep the fingerprint looks into a model directory: model.json names files relative to it, possibly in subdirectories. */
    private static final int FINGERPRINT_DEPTH = 8;

    /** Where a model comes from. */
    public enum Source {
        BUNDLED,
        USER;

        public String jsonName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Why the last reload of a loaded model failed, while its older version kept serving. */
    public record ReloadFailure(Instant time, String reason) {}

    /**
     * What {@link #list()} knows of one model: its checked model.json, or why it is unusable; when it
     * is loaded, since when, its {@code generation} (1 for the first load, one more for each reload) and
     * the last reload's failure if the files on disk are not the ones serving.
     */
    public record Entry(
        String name,
        Source source,
        Path directory,
        boolean loaded,
        ModelConfig config,
        String error,
        Instant loadedAt,
        long generation,
        ReloadFailure reloadFailure
    ) {}

    /** What one {@link #refresh()} did to one model. */
    public record Change(String name, Kind kind, Source source, Path directory, String version, String previousVersion, long generation, String reason) {
        public enum Kind {
            /** A new model directory: listed, loaded at its first use. */
            ADDED,
            /** The model's directory went away: unloaded. */
            REMOVED,
            /** Not loaded, and now comes from another directory (a user model took a bundled one's name, or gave it back). */
            MOVED,
            /** Loaded, and its files or directory changed: the new files passed every check and serve from now on. */
            RELOADED,
            /** Loaded, and its files changed, but the new files fail a check: the old version keeps serving. */
            RELOAD_FAILED;

            public String jsonName() {
                return name().toLowerCase(Locale.ROOT);
            }
        }
    }

    /**
     * A model directory's state as cheaply as it can be read: for every file (relative path), its size,
     * modification time and identity (inode: a file moved into place keeps its size and time but not
     * its identity), and the SHA-256 of model.json itself, which is small and holds the other files'
     * checksums. Two equal fingerprints mean "nothing to reload".
     */
    record Fingerprint(Path directory, String modelJsonSha256, List<FileStamp> files) {
        record FileStamp(String path, long size, FileTime modified, Object identity) {}

        static Fingerprint of(Path dir) throws IOException {
            List<FileStamp> files = new ArrayList<>();
            // Links followed: a model directory may be a link to where the user keeps the model.
            try (Stream<Path> walk = Files.walk(dir, FINGERPRINT_DEPTH, FileVisitOption.FOLLOW_LINKS)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                    if (a.isRegularFile()) {
                        files.add(new FileStamp(dir.relativize(p).toString(), a.size(), a.lastModifiedTime(), a.fileKey()));
                    }
                }
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            files.sort((x, y) -> x.path().compareTo(y.path()));
            Path json = dir.resolve(ModelConfig.FILE_NAME);
            String jsonSha = Files.isRegularFile(json) ? ModelConfig.sha256(Files.readAllBytes(json)) : null;
            return new Fingerprint(dir, jsonSha, List.copyOf(files));
        }
    }

    /**
     * A loaded model and who holds it: the registry (one reference while it serves) and each
     * {@link Lease}. The model is closed when the count drops to 0, which only happens after the
     * registry let it go, so a lease taken from the registry always holds an open model.
     */
    private final class Loaded {
        final String name;
        final HashModel model;
        final Source source;
        final Fingerprint fingerprint;
        final Instant loadedAt;
        final long generation;
        private final AtomicInteger refs = new AtomicInteger(1);

        Loaded(String name, HashModel model, Source source, Fingerprint fingerprint, long generation) {
            this.name = name;
            this.model = model;
            this.source = source;
            this.fingerprint = fingerprint;
            this.loadedAt = Instant.now();
            this.generation = generation;
        }

        boolean tryIncRef() {
            int n;
            do {
                n = refs.get();
                if (n <= 0) {
                    return false;
                }
            } while (refs.compareAndSet(n, n + 1) == false);
            return true;
        }

        void decRef() {
            int n = refs.decrementAndGet();
            assert n >= 0 : "model [" + name + "] released more often than acquired";
            if (n == 0) {
                closeLater(this);
            }
        }
    }

    /**
     * A model held for one call or a few: it stays open until {@link #close()}, even when a refresh
     * replaces it meanwhile. Not for keeping: a lease held forever keeps a replaced model in memory.
     */
    public static final class Lease implements AutoCloseable {
        private final Loaded loaded;
        private final AtomicInteger released = new AtomicInteger();

        private Lease(Loaded loaded) {
            this.loaded = loaded;
        }

        public HashModel model() {
            if (released.get() != 0) {
                throw new IllegalStateException("the lease of model [" + loaded.name + "] was released");
            }
            return loaded.model;
        }

        /** Which load of the model this is: 1 for the first, one more for each reload. */
        public long generation() {
            return loaded.generation;
        }

        @Override
        public void close() {
            if (released.compareAndSet(0, 1)) {
                loaded.decRef();
            }
        }
    }

    private final Path bundledDir;
    private final Path userDir;
    private final Function<String, HashModel.Options> options;
    private final Executor closer;
    /** The models that serve, read without a lock; written under the registry's lock only. */
    private final Map<String, Loaded> loaded = new ConcurrentHashMap<>();
    /** The last failed reload of a loaded model, with the fingerprint of the files that failed. */
    private final Map<String, Failure> failures = new ConcurrentHashMap<>();
    /** Loads per name over the registry's life, so a generation never repeats (guarded by this). */
    private final Map<String, Long> generations = new HashMap<>();
    /** The models seen by the last refresh (guarded by this). */
    private Map<String, Source> known;
    private volatile boolean closed;

    private record Failure(ReloadFailure failure, Fingerprint fingerprint) {}

    /**
     * @param bundledDir the plugin's models, one subdirectory each (may be null or missing)
     * @param userDir    users' models, one subdirectory each (may be null or missing)
     * @param options    how to run the model of a given name
     */
    public ModelRegistry(Path bundledDir, Path userDir, Function<String, HashModel.Options> options) {
        this(bundledDir, userDir, options, Runnable::run);
    }

    /**
     * @param closer where a replaced model is closed once its last call is done, so that the call that
     *               happens to finish last does not pay for it (on a node, a background pool)
     */
    public ModelRegistry(Path bundledDir, Path userDir, Function<String, HashModel.Options> options, Executor closer) {
        this.bundledDir = bundledDir;
        this.userDir = userDir;
        this.options = Objects.requireNonNull(options);
        this.closer = Objects.requireNonNull(closer);
        Map<String, Source> initial;
        try {
            initial = scan();
        } catch (RuntimeException e) {
            // The listing is tried again at each refresh, and reported there; a node must start anyway.
            initial = Map.of();
        }
        this.known = initial;
    }

    /** Checks a model name as given in a request; the message names the value and what is allowed. */
    public static void checkName(String name) {
        if (name == null || NAME.matcher(name).matches() == false) {
            throw new InputException(
                InputException.Kind.UNKNOWN_MODEL,
                "invalid model name [" + name + "]: expected 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit"
            );
        }
    }

    /**
     * The model {@code name}, loading it first if needed, held until the lease is closed: use it in
     * try-with-resources around the calls to the model.
     */
    public Lease acquire(String name) {
        checkName(name);
        while (true) {
            Loaded l = loaded.get(name);
            if (l == null) {
                l = load(name);
            }
            if (l.tryIncRef()) {
                return new Lease(l);
            }
            // Replaced (or unloaded) between the lookup and the reference: the map already has what serves now.
        }
    }

    /** Loads {@code name} unless another caller did meanwhile: one load at a time, so callers of one model share one load. */
    private synchronized Loaded load(String name) {
        Loaded l = loaded.get(name);
        if (l != null) {
            return l;
        }
        if (closed) {
            throw new IllegalStateException("the model registry is closed: the node is shutting down");
        }
        Path dir = directory(name);
        if (dir == null) {
            throw unknown(name);
        }
        try {
            // The fingerprint first: files that change during the load make the next refresh load again.
            Fingerprint fingerprint = Fingerprint.of(dir);
            l = new Loaded(name, new HashModel(ModelConfig.load(dir), options.apply(name)), source(dir), fingerprint, nextGeneration(name));
        } catch (IOException | RuntimeException e) {
            throw new InputException(
                InputException.Kind.MODEL_UNAVAILABLE,
                "model [" + name + "] in [" + dir + "] cannot be loaded: " + message(e),
                e
            );
        }
        loaded.put(name, l);
        failures.remove(name);
        return l;
    }

    private long nextGeneration(String name) {
        return generations.merge(name, 1L, Long::sum);
    }

    private Source source(Path dir) {
        return userDir != null && dir.startsWith(userDir) ? Source.USER : Source.BUNDLED;
    }

    /**
     * Model {@code name}'s checked model.json, from the loaded model or read afresh (for validating a
     * pipeline or a query before anything is run).
     */
    public ModelConfig config(String name) {
        checkName(name);
        Loaded l = loaded.get(name);
        if (l != null) {
            return l.model.config();
        }
        Path dir = directory(name);
        if (dir == null) {
            throw unknown(name);
        }
        try {
            return ModelConfig.load(dir);
        } catch (RuntimeException e) {
            throw new InputException(InputException.Kind.MODEL_UNAVAILABLE, "model [" + name + "] in [" + dir + "] is not usable: " + e.getMessage(), e);
        }
    }

    private InputException unknown(String name) {
        return new InputException(
            InputException.Kind.UNKNOWN_MODEL,
            "unknown model [" + name + "]: the models here are " + names() + "; add a model as a directory with a model.json under [" + userDir
                + "]"
        );
    }

    /** The model directory for {@code name}: the user's if there is one, else the bundled one, else null. */
    private Path directory(String name) {
        for (Path base : new Path[] { userDir, bundledDir }) {
            if (base != null) {
                Path dir = base.resolve(name);
                if (Files.isDirectory(dir)) {
                    return dir;
                }
            }
        }
        return null;
    }

    /** Every model name there is, sorted. */
    public List<String> names() {
        return List.copyOf(scan().keySet());
    }

    private Map<String, Source> scan() {
        Map<String, Source> names = new TreeMap<>();
        scan(bundledDir, Source.BUNDLED, names);
        scan(userDir, Source.USER, names);
        return names;
    }

    private static void scan(Path base, Source source, Map<String, Source> into) {
        if (base == null || Files.isDirectory(base) == false) {
            return;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(base, Files::isDirectory)) {
            for (Path dir : dirs) {
                String name = dir.getFileName().toString();
                if (NAME.matcher(name).matches()) {
                    into.put(name, source);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list the model directory [" + base + "]: " + e, e);
        }
    }

    /**
     * Every model there is, with its model.json checked (files, checksums) but not loaded into ONNX
     * Runtime unless it already is; a model that fails the checks is listed with the reason. A loaded
     * model is described as it serves, with its last reload's failure if any.
     */
    public List<Entry> list() {
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Source> e : scan().entrySet()) {
            String name = e.getKey();
            Loaded l = loaded.get(name);
            if (l != null) {
                Failure f = failures.get(name);
                ModelConfig c = l.model.config();
                entries.add(new Entry(name, l.source, c.directory(), true, c, null, l.loadedAt, l.generation, f == null ? null : f.failure()));
                continue;
            }
            Path dir = directory(name);
            if (dir == null) {
                continue; // removed since the scan
            }
            try {
                entries.add(new Entry(name, e.getValue(), dir, false, ModelConfig.load(dir), null, null, 0, null));
            } catch (RuntimeException failure) {
                entries.add(new Entry(name, e.getValue(), dir, false, null, failure.getMessage(), null, 0, null));
            }
        }
        return entries;
    }

    /**
     * Brings the registry up to date with the model directories (see the class description) and says
     * what changed; an empty list when nothing did. One refresh at a time, and none while a model
     * loads at its first use; calls to loaded models go on meanwhile. A reload that fails is one
     * {@link Change.Kind#RELOAD_FAILED} change, not an exception.
     *
     * @throws IllegalStateException if a models directory cannot be listed (nothing is changed then)
     */
    public synchronized List<Change> refresh() {
        if (closed) {
            return List.of();
        }
        Map<String, Source> now = scan();
        TreeSet<String> names = new TreeSet<>(known.keySet());
        names.addAll(now.keySet());
        names.addAll(loaded.keySet());
        List<Change> changes = new ArrayList<>();
        for (String name : names) {
            Source before = known.get(name);
            Source after = now.get(name);
            Loaded current = loaded.get(name);
            if (after == null) {
                failures.remove(name);
                if (current != null) {
                    loaded.remove(name);
                    retire(current);
                }
                if (before != null || current != null) {
                    Path was = current == null ? null : current.model.config().directory();
                    changes.add(new Change(name, Change.Kind.REMOVED, before, was, null, current == null ? null : current.model.config().version(), 0, null));
                }
                continue;
            }
            Path dir = directory(name);
            if (dir == null) {
                continue; // removed since the scan: the next refresh sees it
            }
            if (current == null) {
                if (before == null) {
                    changes.add(new Change(name, Change.Kind.ADDED, after, dir, null, null, 0, null));
                } else if (before != after) {
                    changes.add(new Change(name, Change.Kind.MOVED, after, dir, null, null, 0, null));
                }
                continue;
            }
            if (before == null) {
                changes.add(new Change(name, Change.Kind.ADDED, after, dir, current.model.config().version(), null, current.generation, null));
            }
            Change change = reload(name, current, dir);
            if (change != null) {
                changes.add(change);
            }
        }
        known = now;
        return changes;
    }

    /** Reloads a serving model whose files changed; null when they did not, or when these very files failed before. */
    private Change reload(String name, Loaded current, Path dir) {
        String oldVersion = current.model.config().version();
        Fingerprint fingerprint;
        try {
            fingerprint = Fingerprint.of(dir);
        } catch (IOException | RuntimeException e) {
            return failed(name, current, dir, null, "cannot read the model directory [" + dir + "]: " + message(e));
        }
        if (fingerprint.equals(current.fingerprint)) {
            return null;
        }
        Failure last = failures.get(name);
        if (last != null && fingerprint.equals(last.fingerprint())) {
            return null;
        }
        Loaded next;
        try {
            next = new Loaded(name, new HashModel(ModelConfig.load(dir), options.apply(name)), source(dir), fingerprint, nextGeneration(name));
        } catch (RuntimeException e) {
            return failed(name, current, dir, fingerprint, message(e));
        }
        loaded.put(name, next);
        failures.remove(name);
        retire(current);
        return new Change(name, Change.Kind.RELOADED, next.source, dir, next.model.config().version(), oldVersion, next.generation, null);
    }

    private Change failed(String name, Loaded current, Path dir, Fingerprint fingerprint, String reason) {
        String full = "model [" + name + "] in [" + dir + "] was not reloaded: " + reason + "; version [" + current.model.config().version()
            + "] keeps serving until the files pass the checks (fix or copy them again; they are tried again when they change)";
        failures.put(name, new Failure(new ReloadFailure(Instant.now(), full), fingerprint));
        return new Change(name, Change.Kind.RELOAD_FAILED, source(dir), dir, current.model.config().version(), null, current.generation, full);
    }

    private static String message(Exception e) {
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /** Drops the registry's reference: the model closes now if no call holds it, else when the last one ends. */
    private void retire(Loaded l) {
        l.decRef();
    }

    private void closeLater(Loaded l) {
        Runnable close = () -> {
            try {
                l.model.close();
            } catch (RuntimeException e) {
                LOGGER.warn(() -> "cannot close generation " + l.generation + " of model [" + l.name + "]", e);
            }
        };
        try {
            closer.execute(close);
        } catch (RejectedExecutionException e) {
            close.run(); // the pool is shutting down
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        RuntimeException failure = null;
        for (Loaded l : loaded.values()) {
            try {
                // Now, not when the last lease ends: the node is stopping. A call under way finishes first (HashModel's lock).
                l.model.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        loaded.clear();
        failures.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
