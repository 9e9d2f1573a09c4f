package org.deephash.model;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.lucene.tests.util.LuceneTestCase;
import org.elasticsearch.core.IOUtils;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.hamcrest.Matchers.containsString;

/**
 * Bundled and user models side by side: lookup, override, a broken model beside good ones, names.
 * Lucene's ExtrasFS is off: it would drop random "extra0" directories into the model directories,
 * which the registry rightly lists (as models without a model.json).
 */
@LuceneTestCase.SuppressFileSystems("ExtrasFS")
public class ModelRegistryTests extends ESTestCase {

    private static void copyModel(Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(GoldenVectorsTests.modelDir())) {
            for (Path file : files.toList()) {
                Files.copy(file, to.resolve(file.getFileName().toString()));
            }
        }
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The shipped model's version (model/export/model.json): what a copy of it serves as. */
    private static String shippedVersion() throws IOException {
        return JSON.readTree(GoldenVectorsTests.modelDir().resolve("model.json").toFile()).get("version").asText();
    }

    /** Rewrites one model.json field, as a user copying in a new version of a model would. */
    private static void setModelJson(Path dir, String field, String value) throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("model.json").toFile());
        config.put(field, value);
        Files.writeString(dir.resolve("model.json"), JSON.writeValueAsString(config), StandardCharsets.UTF_8);
    }

    /** The code model {@code name} gives the text "cat", through a lease as a request would. */
    private static String hash(ModelRegistry registry, String name) {
        try (ModelRegistry.Lease lease = registry.acquire(name)) {
            return lease.model().hashTexts(List.of("cat")).get(0).codeHex();
        }
    }

    private static ModelRegistry.Entry entry(ModelRegistry registry, String name) {
        return registry.list().stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow();
    }

    private static ModelRegistry registry(Path bundled, Path user) {
        return new ModelRegistry(bundled, user, name -> new HashModel.Options(1, 1 << 20, 1 << 20, 1000, null));
    }

    public void testBundledAndUserModels() throws IOException {
        Path bundled = createTempDir();
        Path user = createTempDir();
        copyModel(bundled.resolve("default"));
        copyModel(user.resolve("mine"));
        // A user model whose file was changed after model.json was written: listed with the reason, and only it fails.
        copyModel(user.resolve("broken"));
        Files.writeString(user.resolve("broken/text.onnx"), "changed", StandardCharsets.UTF_8);
        Files.createDirectories(user.resolve("Not A Name"));
        try (ModelRegistry registry = registry(bundled, user)) {
            assertEquals(List.of("broken", "default", "mine"), registry.names());
            List<ModelRegistry.Entry> entries = registry.list();
            assertEquals(3, entries.size());
            ModelRegistry.Entry broken = entries.get(0);
            assertNull(broken.config());
            assertThat(broken.error(), containsString("SHA-256"));
            assertEquals(ModelRegistry.Source.BUNDLED, entries.get(1).source());
            assertEquals(ModelRegistry.Source.USER, entries.get(2).source());
            assertFalse(entries.get(2).loaded());

            try (ModelRegistry.Lease mine = registry.acquire("mine"); ModelRegistry.Lease again = registry.acquire("mine")) {
                assertSame(mine.model(), again.model());
                assertEquals(1, mine.generation());
                assertTrue(registry.list().get(2).loaded());
                assertEquals(hash(registry, "default"), mine.model().hashTexts(List.of("cat")).get(0).codeHex());
            }

            InputException e = expectThrows(InputException.class, () -> registry.acquire("broken"));
            assertEquals(InputException.Kind.MODEL_UNAVAILABLE, e.kind());
            assertThat(e.getMessage(), containsString("model [broken] in ["));
            e = expectThrows(InputException.class, () -> registry.acquire("nope"));
            assertEquals(InputException.Kind.UNKNOWN_MODEL, e.kind());
            assertThat(e.getMessage(), containsString("unknown model [nope]: the models here are [broken, default, mine]"));
            for (String bad : new String[] { "../default", "Default", "", "a/b", "-x" }) {
                e = expectThrows(InputException.class, () -> registry.acquire(bad));
                assertThat(e.getMessage(), containsString("invalid model name [" + bad + "]"));
            }
        }
    }

    public void testAUserModelReplacesTheBundledOneOfTheSameName() throws IOException {
        Path bundled = createTempDir();
        Path user = createTempDir();
        copyModel(bundled.resolve("default"));
        copyModel(user.resolve("default"));
        setModelJson(user.resolve("default"), "version", "users-own");
        try (ModelRegistry registry = registry(bundled, user)) {
            assertEquals(List.of("default"), registry.names());
            assertEquals(ModelRegistry.Source.USER, registry.list().get(0).source());
            assertEquals("users-own", registry.config("default").version());
        }
    }

    public void testMissingDirectoriesMeanNoModels() {
        try (ModelRegistry registry = registry(null, createTempDir().resolve("absent"))) {
            assertEquals(List.of(), registry.names());
            assertEquals(InputException.Kind.UNKNOWN_MODEL, expectThrows(InputException.class, () -> registry.acquire("default")).kind());
            assertEquals(List.of(), registry.refresh());
        }
    }

    /** A replaced model is loaded anew and swapped in; a call that held the old one finishes on it, and it closes after. */
    public void testAReplacedModelIsReloaded() throws IOException {
        Path user = createTempDir();
        Path mine = user.resolve("mine");
        copyModel(mine);
        try (ModelRegistry registry = registry(null, user)) {
            assertEquals(List.of(), registry.refresh());
            String code = hash(registry, "mine");
            ModelRegistry.Entry first = entry(registry, "mine");
            assertEquals(1, first.generation());
            assertNotNull(first.loadedAt());
            assertNull(first.reloadFailure());

            ModelRegistry.Lease held = registry.acquire("mine");
            HashModel old = held.model();
            setModelJson(mine, "version", "second");
            List<ModelRegistry.Change> changes = registry.refresh();
            assertEquals(1, changes.size());
            ModelRegistry.Change c = changes.get(0);
            assertEquals(ModelRegistry.Change.Kind.RELOADED, c.kind());
            assertEquals("mine", c.name());
            assertEquals("second", c.version());
            assertEquals(shippedVersion(), c.previousVersion());
            assertEquals(2, c.generation());
            assertEquals(ModelRegistry.Source.USER, c.source());

            ModelRegistry.Entry second = entry(registry, "mine");
            assertEquals("second", second.config().version());
            assertEquals(2, second.generation());
            assertFalse(second.loadedAt().isBefore(first.loadedAt()));
            try (ModelRegistry.Lease now = registry.acquire("mine")) {
                assertNotSame(old, now.model());
                assertEquals(2, now.generation());
            }
            // The old model still serves the call that holds it, and is closed once that call lets it go.
            assertEquals(code, old.hashTexts(List.of("cat")).get(0).codeHex());
            held.close();
            held.close();
            expectThrows(IllegalStateException.class, held::model);
            IllegalStateException closed = expectThrows(IllegalStateException.class, () -> old.hashTexts(List.of("cat")));
            assertThat(closed.getMessage(), containsString("is closed"));
            assertEquals(code, hash(registry, "mine"));
            assertEquals(List.of(), registry.refresh());
        }
    }

    /**
     * New files that fail their checks (a half-copied ONNX file, a bad model.json, ONNX that ONNX
     * Runtime refuses) leave the loaded version serving and are reported; the same files are not tried
     * again, fixed ones are.
     */
    public void testAReplacementThatFailsItsChecksLeavesTheOldVersionServing() throws IOException {
        Path user = createTempDir();
        Path mine = user.resolve("mine");
        copyModel(mine);
        byte[] text = Files.readAllBytes(mine.resolve("text.onnx"));
        String modelJson = Files.readString(mine.resolve("model.json"), StandardCharsets.UTF_8);
        try (ModelRegistry registry = registry(null, user)) {
            String code = hash(registry, "mine");

            // A copy under way: text.onnx is half there.
            Files.write(mine.resolve("text.onnx"), java.util.Arrays.copyOf(text, text.length / 2));
            ModelRegistry.Change c = single(registry.refresh(), ModelRegistry.Change.Kind.RELOAD_FAILED);
            assertThat(c.reason(), containsString("model [mine] in [" + mine + "] was not reloaded"));
            assertThat(c.reason(), containsString("SHA-256 mismatch for [text.onnx]"));
            assertThat(c.reason(), containsString("version [" + shippedVersion() + "] keeps serving"));
            ModelRegistry.Entry e = entry(registry, "mine");
            assertTrue(e.loaded());
            assertEquals(shippedVersion(), e.config().version());
            assertEquals(1, e.generation());
            assertEquals(c.reason(), e.reloadFailure().reason());
            assertNotNull(e.reloadFailure().time());
            assertEquals(code, hash(registry, "mine"));
            assertEquals("the same files are not tried again", List.of(), registry.refresh());

            // A model.json that is not JSON.
            Files.writeString(mine.resolve("model.json"), "{\"name\": ", StandardCharsets.UTF_8);
            c = single(registry.refresh(), ModelRegistry.Change.Kind.RELOAD_FAILED);
            assertThat(c.reason(), containsString("is not valid JSON"));
            assertEquals(code, hash(registry, "mine"));

            // Checksums that match, but ONNX Runtime refuses the file.
            byte[] notOnnx = "not an ONNX graph".getBytes(StandardCharsets.UTF_8);
            Files.write(mine.resolve("text.onnx"), notOnnx);
            String sha = ModelConfig.sha256(notOnnx);
            Files.writeString(mine.resolve("model.json"), modelJson.replace(ModelConfig.sha256(text), sha), StandardCharsets.UTF_8);
            c = single(registry.refresh(), ModelRegistry.Change.Kind.RELOAD_FAILED);
            assertThat(c.reason(), containsString("ONNX Runtime cannot load"));
            assertThat(c.reason(), containsString("text.onnx"));
            assertEquals(code, hash(registry, "mine"));
            assertEquals(1, entry(registry, "mine").generation());

            // The copy completed: the new files load, the failure is gone.
            Files.write(mine.resolve("text.onnx"), text);
            Files.writeString(mine.resolve("model.json"), modelJson.replace("\"" + shippedVersion() + "\"", "\"fixed\""), StandardCharsets.UTF_8);
            c = single(registry.refresh(), ModelRegistry.Change.Kind.RELOADED);
            assertEquals("fixed", c.version());
            e = entry(registry, "mine");
            assertEquals("fixed", e.config().version());
            assertEquals(2, e.generation());
            assertNull(e.reloadFailure());
            assertEquals(code, hash(registry, "mine"));
        }
    }

    private static ModelRegistry.Change single(List<ModelRegistry.Change> changes, ModelRegistry.Change.Kind kind) {
        assertEquals(changes.toString(), 1, changes.size());
        assertEquals(changes.toString(), kind, changes.get(0).kind());
        return changes.get(0);
    }

    /** New directories are listed and load at first use; removed ones unload, and a user model that took a bundled one's name gives it back. */
    public void testNewAndRemovedModels() throws IOException {
        Path bundled = createTempDir();
        Path user = createTempDir();
        copyModel(bundled.resolve("default"));
        copyModel(bundled.resolve("spare"));
        try (ModelRegistry registry = registry(bundled, user)) {
            String code = hash(registry, "default");
            assertEquals(ModelRegistry.Source.BUNDLED, entry(registry, "default").source());

            // A user model named default takes the loaded bundled one's place; a new one is only listed, and
            // so is a user model that takes the name of a bundled one that was never loaded.
            copyModel(user.resolve("default"));
            setModelJson(user.resolve("default"), "version", "users-own");
            copyModel(user.resolve("mine"));
            copyModel(user.resolve("spare"));
            List<ModelRegistry.Change> changes = registry.refresh();
            assertEquals(changes.toString(), 3, changes.size());
            assertEquals(ModelRegistry.Change.Kind.RELOADED, changes.get(0).kind());
            assertEquals("users-own", changes.get(0).version());
            assertEquals(ModelRegistry.Source.USER, changes.get(0).source());
            assertEquals(ModelRegistry.Change.Kind.ADDED, changes.get(1).kind());
            assertEquals("mine", changes.get(1).name());
            assertFalse(entry(registry, "mine").loaded());
            assertEquals(ModelRegistry.Change.Kind.MOVED, changes.get(2).kind());
            assertEquals(ModelRegistry.Source.USER, changes.get(2).source());
            assertEquals(user.resolve("spare"), changes.get(2).directory());
            assertFalse(entry(registry, "spare").loaded());
            assertEquals(code, hash(registry, "mine"));
            assertEquals("users-own", registry.config("default").version());

            // The user models removed: default is the bundled one again, mine is gone, spare the bundled one.
            IOUtils.rm(user.resolve("default"), user.resolve("mine"), user.resolve("spare"));
            changes = registry.refresh();
            assertEquals(changes.toString(), 3, changes.size());
            ModelRegistry.Change back = changes.get(0);
            assertEquals(ModelRegistry.Change.Kind.RELOADED, back.kind());
            assertEquals(ModelRegistry.Source.BUNDLED, back.source());
            assertEquals(shippedVersion(), back.version());
            assertEquals("users-own", back.previousVersion());
            assertEquals(3, back.generation());
            ModelRegistry.Change gone = changes.get(1);
            assertEquals(ModelRegistry.Change.Kind.REMOVED, gone.kind());
            assertEquals("mine", gone.name());
            assertEquals(shippedVersion(), gone.previousVersion());
            assertEquals(ModelRegistry.Change.Kind.MOVED, changes.get(2).kind());
            assertEquals(ModelRegistry.Source.BUNDLED, changes.get(2).source());
            assertEquals(List.of("default", "spare"), registry.names());
            assertEquals(ModelRegistry.Source.BUNDLED, entry(registry, "default").source());
            assertEquals(code, hash(registry, "default"));
            assertEquals(InputException.Kind.UNKNOWN_MODEL, expectThrows(InputException.class, () -> registry.acquire("mine")).kind());
            assertEquals(List.of(), registry.refresh());
        }
    }

    /**
     * Calls that run while the model is swapped again and again never see a closed model and all give
     * the same code; every replaced model is closed (on the closer's thread) once its calls are done.
     */
    public void testHashingDuringReloadsNeverFails() throws Exception {
        Path user = createTempDir();
        Path mine = user.resolve("mine");
        copyModel(mine);
        ExecutorService closer = Executors.newSingleThreadExecutor();
        ModelRegistry registry = new ModelRegistry(null, user, name -> new HashModel.Options(1, 1 << 20, 1 << 20, 1000, null), closer);
        try {
            String code = hash(registry, "mine");
            AtomicBoolean stop = new AtomicBoolean();
            Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
            AtomicInteger calls = new AtomicInteger();
            Set<HashModel> seen = ConcurrentHashMap.newKeySet();
            Thread[] threads = new Thread[2];
            for (int t = 0; t < threads.length; t++) {
                threads[t] = new Thread(() -> {
                    while (stop.get() == false) {
                        try (ModelRegistry.Lease lease = registry.acquire("mine")) {
                            seen.add(lease.model());
                            String got = lease.model().hashTexts(List.of("cat")).get(0).codeHex();
                            if (got.equals(code) == false) {
                                failures.add(new AssertionError("generation " + lease.generation() + " gave " + got + ", expected " + code));
                            }
                            calls.incrementAndGet();
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }
                });
                threads[t].start();
            }
            int reloads = between(2, 3);
            for (int i = 0; i < reloads; i++) {
                setModelJson(mine, "version", "v" + i);
                single(registry.refresh(), ModelRegistry.Change.Kind.RELOADED);
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            assertTrue("no failures, but " + failures, failures.isEmpty());
            assertTrue(calls.get() > 0);
            assertEquals(reloads + 1, entry(registry, "mine").generation());
            closer.submit(() -> {}).get();
            try (ModelRegistry.Lease current = registry.acquire("mine")) {
                for (HashModel m : seen) {
                    if (m != current.model()) {
                        expectThrows(IllegalStateException.class, () -> m.hashTexts(List.of("cat")));
                    }
                }
            }
        } finally {
            registry.close();
            terminate(closer);
        }
    }
}
