package org.deephash.model;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The models a node can hash with, by name: the models bundled with the plugin, and users' models in
 * a directory of their own (on a node, {@code $ES_PATH_CONF/deep-hash/models/<name>/}), each a
 * directory with a {@code model.json} and the ONNX files it names. A user's model of the same name
 * as a bundled one takes its place, so a node can swap the {@code default} model without a new plugin.
 *
 * <p>Each model is loaded once, at its first use, and shared: its sessions are thread-safe. A model
 * that cannot be loaded (a bad model.json, a checksum that does not match, ONNX that ONNX Runtime
 * refuses) is an {@link InputException} of kind {@link InputException.Kind#MODEL_UNAVAILABLE} for
 * the callers that ask for it, and is tried again at the next call; every other model keeps working.
 */
public final class ModelRegistry implements Closeable {
    public static final String DEFAULT_MODEL = "default";
    /** Lower-case letters, digits, '_' and '-', starting with a letter or digit: a directory name and nothing more. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");

    /** Where a model comes from. */
    public enum Source {
        BUNDLED,
        USER
    }

    /** What {@link #list()} knows of one model without loading it: its checked model.json, or why it is unusable. */
    public record Entry(String name, Source source, Path directory, boolean loaded, ModelConfig config, String error) {}

    private final Path bundledDir;
    private final Path userDir;
    private final Function<String, HashModel.Options> options;
    private final Map<String, HashModel> loaded = new ConcurrentHashMap<>();
    private boolean closed;

    /**
     * @param bundledDir the plugin's models, one subdirectory each (may be null or missing)
     * @param userDir    users' models, one subdirectory each (may be null or missing)
     * @param options    how to run the model of a given name
     */
    public ModelRegistry(Path bundledDir, Path userDir, Function<String, HashModel.Options> options) {
        this.bundledDir = bundledDir;
        this.userDir = userDir;
        this.options = Objects.requireNonNull(options);
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

    /** The loaded model {@code name}, loading it first if needed. */
    public HashModel get(String name) {
        checkName(name);
        HashModel model = loaded.get(name);
        if (model != null) {
            return model;
        }
        // One load at a time: a load reads and hashes up to a hundred megabytes, and two callers asking
        // for the same model at once should share one load rather than race.
        synchronized (this) {
            model = loaded.get(name);
            if (model != null) {
                return model;
            }
            if (closed) {
                throw new IllegalStateException("the model registry is closed: the node is shutting down");
            }
            Path dir = directory(name);
            if (dir == null) {
                throw unknown(name);
            }
            try {
                model = new HashModel(ModelConfig.load(dir), options.apply(name));
            } catch (RuntimeException e) {
                throw new InputException(
                    InputException.Kind.MODEL_UNAVAILABLE,
                    "model [" + name + "] in [" + dir + "] cannot be loaded: " + e.getMessage(),
                    e
                );
            }
            loaded.put(name, model);
            return model;
        }
    }

    /**
     * Model {@code name}'s checked model.json, from the loaded model or read afresh (for validating a
     * pipeline or a query before anything is run).
     */
    public ModelConfig config(String name) {
        checkName(name);
        HashModel model = loaded.get(name);
        if (model != null) {
            return model.config();
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
     * Runtime unless it already is; a model that fails the checks is listed with the reason.
     */
    public List<Entry> list() {
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Source> e : scan().entrySet()) {
            String name = e.getKey();
            Path dir = directory(name);
            HashModel model = loaded.get(name);
            if (model != null) {
                entries.add(new Entry(name, e.getValue(), dir, true, model.config(), null));
                continue;
            }
            try {
                entries.add(new Entry(name, e.getValue(), dir, false, ModelConfig.load(dir), null));
            } catch (RuntimeException failure) {
                entries.add(new Entry(name, e.getValue(), dir, false, null, failure.getMessage()));
            }
        }
        return entries;
    }

    @Override
    public synchronized void close() {
        closed = true;
        RuntimeException failure = null;
        for (HashModel model : loaded.values()) {
            try {
                model.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        loaded.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
