package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.deephash.it.ItSupport.JSON;
import static org.deephash.it.ItSupport.NODES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code deep_hash.models.path} naming a directory outside the node's config directory, which
 * Elasticsearch 8.19 lets the plugin read only through the {@code path_setting} files entitlement in
 * entitlement-policy.yaml: the model there ({@code shared}, a copy of model/export) is listed as the
 * user's and gives the golden codes through {@code _hash}; a model copied there while the node runs is
 * found by {@code POST _deep_hash/models/_reload} and hashes; the models under the config directory's
 * default place are not read.
 *
 * <p>integ-tests/run.sh runs it in its own phase, on a node restarted with the setting, and passes the
 * directory as {@code -Dtests.models.path.dir} ({@code TESTS_MODELS_PATH_DIR}); skipped without it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelsPathIT {
    static final String MODEL = "shared";
    static final String ADDED = "shared-added";

    private Es es;
    private Path models;

    @BeforeAll
    void setUp() throws IOException {
        String d = ItSupport.setting("tests.models.path.dir", "TESTS_MODELS_PATH_DIR");
        Assumptions.assumeTrue(d != null, "ModelsPathIT needs a node started with deep_hash.models.path: -Dtests.models.path.dir (integ-tests/run.sh passes it)");
        models = Path.of(d).toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(models.resolve(MODEL).resolve("golden.json")), "no model [" + MODEL + "] in " + models);
        es = new Es();
        deleteTree(models.resolve(ADDED));
        reload();
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es != null) {
            deleteTree(models.resolve(ADDED));
            reload();
            es.close();
        }
    }

    @Test
    void theModelInTheSettingsDirectoryIsListedAndGivesTheGoldenCodes() throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/models/" + MODEL, (String) null);
        assertEquals(200, r.status(), r.describe());
        JsonNode m = r.json().get("models").get(0);
        assertEquals("user", m.get("source").asText(), m.toString());
        assertEquals(models.resolve(MODEL).toString(), m.get("path").asText(), m.toString());
        assertTrue(m.get("usable").asBoolean(), m.toString());

        Checks checks = new Checks("golden through " + MODEL);
        JsonNode golden = JSON.readTree(models.resolve(MODEL).resolve("golden.json").toFile());
        for (JsonNode c : golden) {
            ObjectNode body = NODES.objectNode();
            if (c.has("image_png_base64")) {
                body.put("image", c.get("image_png_base64").asText());
            }
            if (c.has("text")) {
                body.put("text", c.get("text").asText());
            }
            Raw hashed = es.raw("POST", "/_deep_hash/models/" + MODEL + "/_hash", body);
            String name = c.get("name").asText();
            checks.check(hashed.status() == 200, hashed::describe);
            if (hashed.status() == 200) {
                checks.check(
                    c.get("code").asText().equals(hashed.json().get("code").asText()),
                    () -> name + ": code " + hashed.json().get("code") + " expected " + c.get("code")
                );
            }
        }
        checks.assertNone();
        m = es.raw("GET", "/_deep_hash/models/" + MODEL, (String) null).json().get("models").get(0);
        assertTrue(m.get("loaded").asBoolean(), m.toString());
    }

    /** integ-tests/run.sh installs {@code copy} under the config directory's deep-hash/models/: not read with the setting. */
    @Test
    void theConfigDirectorysModelsAreNotRead() throws IOException {
        Raw r = es.raw("GET", "/_deep_hash/models/copy", (String) null);
        assertEquals(404, r.status(), r.describe());
        r = es.raw("GET", "/_deep_hash/models", (String) null);
        assertEquals(200, r.status(), r.describe());
        for (JsonNode m : r.json().get("models")) {
            if (m.get("source").asText().equals("user")) {
                assertTrue(m.get("path").asText().startsWith(models + "/"), m.toString());
            }
        }
    }

    @Test
    void aModelCopiedThereWhileTheNodeRunsIsFound() throws IOException {
        Path staging = models.resolve("." + ADDED + ".tmp");
        deleteTree(staging);
        Files.createDirectories(staging);
        try (Stream<Path> files = Files.list(models.resolve(MODEL))) {
            for (Path f : files.toList()) {
                Files.copy(f, staging.resolve(f.getFileName()));
            }
        }
        Files.move(staging, models.resolve(ADDED), StandardCopyOption.ATOMIC_MOVE);
        reload();
        Raw r = es.raw("GET", "/_deep_hash/models/" + ADDED, (String) null);
        assertEquals(200, r.status(), r.describe());
        assertEquals("user", r.json().get("models").get(0).get("source").asText(), r.describe());
        Raw fromAdded = es.raw("POST", "/_deep_hash/models/" + ADDED + "/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(200, fromAdded.status(), fromAdded.describe());
        Raw fromShared = es.raw("POST", "/_deep_hash/models/" + MODEL + "/_hash", "{\"text\": \"hot beverage\"}");
        assertEquals(fromShared.json().get("code").asText(), fromAdded.json().get("code").asText());

        deleteTree(models.resolve(ADDED));
        reload();
        assertEquals(404, es.raw("GET", "/_deep_hash/models/" + ADDED, (String) null).status());
    }

    /** A model the periodic reload may have found first is not reported again: callers check GET. */
    private void reload() throws IOException {
        Raw r = es.raw("POST", "/_deep_hash/models/_reload", (String) null);
        assertEquals(200, r.status(), r.describe());
        assertEquals(0, r.json().get("_nodes").get("failed").asInt(), r.describe());
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
