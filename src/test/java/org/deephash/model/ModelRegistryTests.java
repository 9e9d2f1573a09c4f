package org.deephash.model;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.lucene.tests.util.LuceneTestCase;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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

            HashModel mine = registry.get("mine");
            assertSame(mine, registry.get("mine"));
            assertTrue(registry.list().get(2).loaded());
            assertEquals(registry.get("default").hashTexts(List.of("cat")).get(0).codeHex(), mine.hashTexts(List.of("cat")).get(0).codeHex());

            InputException e = expectThrows(InputException.class, () -> registry.get("broken"));
            assertEquals(InputException.Kind.MODEL_UNAVAILABLE, e.kind());
            assertThat(e.getMessage(), containsString("model [broken] in ["));
            e = expectThrows(InputException.class, () -> registry.get("nope"));
            assertEquals(InputException.Kind.UNKNOWN_MODEL, e.kind());
            assertThat(e.getMessage(), containsString("unknown model [nope]: the models here are [broken, default, mine]"));
            for (String bad : new String[] { "../default", "Default", "", "a/b", "-x" }) {
                e = expectThrows(InputException.class, () -> registry.get(bad));
                assertThat(e.getMessage(), containsString("invalid model name [" + bad + "]"));
            }
        }
    }

    public void testAUserModelReplacesTheBundledOneOfTheSameName() throws IOException {
        Path bundled = createTempDir();
        Path user = createTempDir();
        copyModel(bundled.resolve("default"));
        copyModel(user.resolve("default"));
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode config = (ObjectNode) json.readTree(user.resolve("default/model.json").toFile());
        config.put("version", "users-own");
        Files.writeString(user.resolve("default/model.json"), json.writeValueAsString(config), StandardCharsets.UTF_8);
        try (ModelRegistry registry = registry(bundled, user)) {
            assertEquals(List.of("default"), registry.names());
            assertEquals(ModelRegistry.Source.USER, registry.list().get(0).source());
            assertEquals("users-own", registry.config("default").version());
        }
    }

    public void testMissingDirectoriesMeanNoModels() {
        try (ModelRegistry registry = registry(null, createTempDir().resolve("absent"))) {
            assertEquals(List.of(), registry.names());
            assertEquals(InputException.Kind.UNKNOWN_MODEL, expectThrows(InputException.class, () -> registry.get("default")).kind());
        }
    }
}
