package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.deephash.it.ItSupport.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Models changed on disk while the node runs, as a user copying a trained model to
 * {@code $ES_PATH_CONF/deep-hash/models/<name>/} would: a new model hashes at once, a replaced one is
 * picked up by the node's periodic reload ({@code deep_hash.models.reload_interval}, 5 s by default)
 * and by {@code POST _deep_hash/models/_reload}, a replacement whose files fail their checks leaves
 * the old version serving and is reported in {@code GET _deep_hash/models}, a user model named
 * {@code default} takes the bundled one's place and gives it back when removed. No restart.
 *
 * <p>Needs the node's user models directory, writable by this JVM and readable by the node:
 * {@code -Dtests.models.dir} / {@code TESTS_MODELS_DIR}, which integ-tests/run.sh passes; skipped
 * without it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ModelReloadIT {
    static final String NAME = "reload-it";
    static final Path REPO = Path.of(System.getProperty("tests.repo.root", ".."));
    /** Three periodic reloads at the default interval, and a model load on a busy machine. */
    static final long WAIT_MILLIS = 60_000;

    private Es es;
    private Path models;
    private Path dir;
    private Path export;
    private String defaultCode;

    @BeforeAll
    void setUp() throws IOException {
        String d = ItSupport.setting("tests.models.dir", "TESTS_MODELS_DIR");
        Assumptions.assumeTrue(d != null, "ModelReloadIT needs the node's user models directory: -Dtests.models.dir (integ-tests/run.sh passes it)");
        models = Path.of(d);
        Assumptions.assumeTrue(Files.isDirectory(models) && Files.isWritable(models), "not a writable directory: " + models);
        dir = models.resolve(NAME);
        export = REPO.resolve("model/export");
        es = new Es();
        removeModels();
        Raw r = es.raw("POST", "/_deep_hash/models/default/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(200, r.status(), r.describe());
        defaultCode = r.json().get("code").asText();
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            removeModels();
            es.close();
        }
    }

    private void removeModels() throws IOException {
        deleteTree(dir);
        deleteTree(models.resolve("default"));
        reload();
    }

    @Test
    @Order(1)
    void aNewModelHashesWithoutARestart() throws IOException {
        copyModel(export, dir);
        JsonNode m = model(NAME);
        assertEquals("user", m.get("source").asText(), m.toString());
        assertTrue(m.get("usable").asBoolean(), m.toString());
        assertEquals(defaultCode, hash(NAME));
        m = model(NAME);
        assertTrue(m.get("loaded").asBoolean(), m.toString());
        assertEquals(1, m.get("generation").asInt(), m.toString());
        assertEquals(JSON.readTree(export.resolve("model.json").toFile()).get("version").asText(), m.get("version").asText(), m.toString());
        Instant.parse(m.get("loaded_at").asText());
        assertFalse(m.has("reload_failure"), m.toString());
    }

    /** A new model.json version is picked up by the periodic reload alone. */
    @Test
    @Order(2)
    void aReplacedModelIsPickedUpByThePeriodicReload() throws IOException {
        Instant before = Instant.parse(model(NAME).get("loaded_at").asText());
        setVersion(dir, "reload-it-2");
        JsonNode m = waitFor(NAME, n -> n.path("version").asText().equals("reload-it-2"));
        assertEquals(2, m.get("generation").asInt(), m.toString());
        assertTrue(Instant.parse(m.get("loaded_at").asText()).isAfter(before), m.toString());
        assertFalse(m.has("reload_failure"), m.toString());
        assertEquals(defaultCode, hash(NAME));
    }

    /** A corrupted ONNX file is refused; the loaded version keeps serving and GET says why. */
    @Test
    @Order(3)
    void aReplacementThatFailsItsChecksIsRefused() throws IOException {
        Files.writeString(dir.resolve("text.onnx"), "half a copy", StandardCharsets.UTF_8);
        JsonNode changes = reload();
        // The periodic reload may have been first; then _reload has nothing left to say about it.
        for (JsonNode c : changes) {
            if (c.get("name").asText().equals(NAME)) {
                assertEquals("reload_failed", c.get("change").asText(), c.toString());
                assertEquals("reload-it-2", c.get("version").asText(), c.toString());
                assertTrue(c.get("reason").asText().contains("SHA-256 mismatch for [text.onnx]"), c.toString());
            }
        }
        JsonNode m = model(NAME);
        assertEquals("reload-it-2", m.get("version").asText(), m.toString());
        assertEquals(2, m.get("generation").asInt(), m.toString());
        assertTrue(m.get("usable").asBoolean(), m.toString());
        JsonNode failure = m.get("reload_failure");
        assertTrue(failure != null, m.toString());
        Instant.parse(failure.get("time").asText());
        String reason = failure.get("reason").asText();
        assertTrue(reason.contains("model [" + NAME + "]") && reason.contains("SHA-256 mismatch for [text.onnx]")
            && reason.contains("version [reload-it-2] keeps serving"), reason);
        assertEquals(defaultCode, hash(NAME));

        // The copy completed, as a new version: _reload swaps it in before it answers.
        Files.copy(export.resolve("text.onnx"), dir.resolve("text.onnx"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        setVersion(dir, "reload-it-3");
        reload();
        m = model(NAME);
        assertEquals("reload-it-3", m.get("version").asText(), m.toString());
        // 3, or 4 when a periodic reload ran between the two writes.
        assertTrue(m.get("generation").asInt() >= 3, m.toString());
        assertFalse(m.has("reload_failure"), m.toString());
        assertEquals(defaultCode, hash(NAME));
    }

    /** A user model named default replaces the bundled one, and removing it brings the bundled one back. */
    @Test
    @Order(4)
    void aUserDefaultReplacesTheBundledOneUntilRemoved() throws IOException {
        Path userDefault = models.resolve("default");
        copyModel(export, userDefault);
        setVersion(userDefault, "users-default");
        reload();
        JsonNode m = model("default");
        assertEquals("user", m.get("source").asText(), m.toString());
        assertEquals("users-default", m.get("version").asText(), m.toString());
        assertEquals(defaultCode, hash("default"));
        assertEquals("users-default", model("default").get("version").asText());

        deleteTree(userDefault);
        JsonNode changes = reload();
        boolean reported = false;
        for (JsonNode c : changes) {
            if (c.get("name").asText().equals("default")) {
                assertEquals("reloaded", c.get("change").asText(), c.toString());
                assertEquals("bundled", c.get("source").asText(), c.toString());
                reported = true;
            }
        }
        m = model("default");
        assertEquals("bundled", m.get("source").asText(), m.toString());
        assertEquals(JSON.readTree(export.resolve("model.json").toFile()).get("version").asText(), m.get("version").asText(), m.toString());
        assertTrue(reported || m.get("generation").asInt() > 1, changes + " / " + m);
        assertEquals(defaultCode, hash("default"));
    }

    @Test
    @Order(5)
    void aRemovedModelIsGone() throws IOException {
        deleteTree(dir);
        reload();
        assertEquals(404, es.raw("GET", "/_deep_hash/models/" + NAME, (String) null).status());
        Raw r = es.raw("POST", "/_deep_hash/models/" + NAME + "/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(404, r.status(), r.describe());
        assertTrue(r.text().contains("unknown model [" + NAME + "]"), r.describe());
    }

    /** POST _deep_hash/models/_reload; the changes the node reports (one node here). */
    private JsonNode reload() throws IOException {
        Raw r = es.raw("POST", "/_deep_hash/models/_reload", (String) null);
        assertEquals(200, r.status(), r.describe());
        assertEquals(1, r.json().get("_nodes").get("successful").asInt(), r.describe());
        assertEquals(0, r.json().get("_nodes").get("failed").asInt(), r.describe());
        JsonNode node = r.json().get("nodes").elements().next();
        assertTrue(node.get("changes").isArray(), r.describe());
        System.out.printf(Locale.ROOT, "[ModelReloadIT] _reload: %s%n", node.get("changes"));
        return node.get("changes");
    }

    private JsonNode model(String name) throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/models/" + name, (String) null);
        assertEquals(200, r.status(), r.describe());
        return r.json().get("models").get(0);
    }

    private JsonNode waitFor(String name, Predicate<JsonNode> condition) throws IOException {
        long deadline = System.nanoTime() + WAIT_MILLIS * 1_000_000;
        JsonNode m = model(name);
        while (condition.test(m) == false) {
            assertTrue(System.nanoTime() < deadline, "model [" + name + "] did not change within " + WAIT_MILLIS + " ms: " + m);
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            m = model(name);
        }
        return m;
    }

    private String hash(String name) throws IOException {
        Raw r = es.raw("POST", "/_deep_hash/models/" + name + "/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(200, r.status(), r.describe());
        return r.json().get("code").asText();
    }

    /** The model's files (not its golden vectors), into a directory beside the target that is then moved into place. */
    private static void copyModel(Path from, Path to) throws IOException {
        Path staging = to.resolveSibling("." + to.getFileName() + ".tmp");
        deleteTree(staging);
        Files.createDirectories(staging);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.filter(p -> p.getFileName().toString().equals("golden.json") == false).toList()) {
                Files.copy(f, staging.resolve(f.getFileName()));
            }
        }
        Files.move(staging, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void setVersion(Path dir, String version) throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("model.json").toFile());
        config.put("version", version);
        Files.writeString(dir.resolve("model.json"), JSON.writeValueAsString(config), StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path root) throws IOException {
        if (Files.exists(root) == false) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
