package org.deephash;

import org.deephash.model.HashInput;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelRegistry;
import org.deephash.model.ModelRegistry.Change;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.core.IOUtils;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.test.ESSingleNodeTestCase;
import org.junit.AfterClass;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

/**
 * {@code deep_hash.models.path} on a node: a directory outside the node's config directory, holding a copy
 * of the shipped model as {@code custom}, is the node's users' models directory. The model is listed as
 * the user's and hashes as the bundled one does; the reload watches that directory, and the default one
 * under the config directory is no longer read.
 */
public class DeepHashPluginTests extends ESSingleNodeTestCase {
    private static final Path EXPORT = Path.of("model/export");
    /** Made before the node starts; the node lives as long as this class's tests. */
    private static Path modelsDir;

    @Override
    protected Collection<Class<? extends Plugin>> getPlugins() {
        return List.of(DeepHashPlugin.class);
    }

    @Override
    public void setUp() throws Exception {
        if (modelsDir == null) {
            modelsDir = createTempDir().toAbsolutePath().normalize().resolve("shared-models");
            copyModel(modelsDir.resolve("custom"));
        }
        super.setUp();
    }

    @AfterClass
    public static void forgetModelsDir() {
        modelsDir = null;
    }

    /** Models are reloaded by request only, so that the test sees every change itself. */
    @Override
    protected Settings nodeSettings() {
        return Settings.builder()
            .put(super.nodeSettings())
            .put("deep_hash.models.path", modelsDir.toString())
            .put("deep_hash.models.reload_interval", "-1")
            .build();
    }

    private static void copyModel(Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(EXPORT)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName().toString()));
            }
        }
    }

    private ModelRegistry.Entry entry(DeepHashService service, String name) {
        return service.registry().list().stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow(
            () -> new AssertionError("model [" + name + "] is not listed: " + service.registry().names())
        );
    }

    public void testAModelInTheSettingsDirectoryIsAUserModel() {
        DeepHashService service = getInstanceFromNode(DeepHashService.class);
        ModelRegistry.Entry custom = entry(service, "custom");
        assertEquals(ModelRegistry.Source.USER, custom.source());
        assertEquals(modelsDir.resolve("custom"), custom.directory());
        assertNull(custom.error(), custom.error());
        assertEquals(ModelRegistry.Source.BUNDLED, entry(service, "default").source());

        String text = randomFrom("grinning face", "red heart, love", "rocket, space, launch", "cat face");
        HashInput input = new HashInput(null, text);
        HashOutput fromCopy = service.hash("custom", input, Set.of(), HashStats.Caller.API).main();
        HashOutput bundled = service.hash("default", input, Set.of(), HashStats.Caller.API).main();
        assertEquals(bundled.codeHex(), fromCopy.codeHex());
        assertArrayEquals(bundled.embedding(), fromCopy.embedding(), 0f);
        assertTrue(entry(service, "custom").loaded());

        InputException e = expectThrows(InputException.class, () -> service.registry().acquire("nope"));
        assertThat(e.getMessage(), containsString("add a model as a directory with a model.json under [" + modelsDir + "]"));
    }

    public void testTheReloadWatchesTheSettingsDirectoryOnly() throws IOException {
        DeepHashService service = getInstanceFromNode(DeepHashService.class);
        service.reloadModels();
        Path inConfig = getInstanceFromNode(Environment.class).configDir().resolve(DeepHashService.DEFAULT_MODELS_PATH).resolve("in-config");
        Path added = modelsDir.resolve("added");
        Files.createDirectories(inConfig);
        Files.createDirectories(added);
        try {
            List<Change> changes = service.reloadModels();
            assertEquals(changes.toString(), 1, changes.size());
            assertEquals("added", changes.get(0).name());
            assertEquals(Change.Kind.ADDED, changes.get(0).kind());
            assertEquals(ModelRegistry.Source.USER, changes.get(0).source());
            assertEquals(added, changes.get(0).directory());
            assertThat(service.registry().names(), not(hasItem("in-config")));
        } finally {
            IOUtils.rm(inConfig, added);
        }
        List<Change> changes = service.reloadModels();
        assertEquals(changes.toString(), 1, changes.size());
        assertEquals(Change.Kind.REMOVED, changes.get(0).kind());
        assertEquals("added", changes.get(0).name());
    }
}
