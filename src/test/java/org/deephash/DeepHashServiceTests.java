package org.deephash;

import org.deephash.model.HashInput;
import org.deephash.model.HashModel;
import org.deephash.model.ImagePreprocessorTests;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.hamcrest.Matchers.containsString;

/** The one hashing call: inputs parsed and their errors counted by kind, the entry point, the statistics; and where users' models are. */
public class DeepHashServiceTests extends ESTestCase {

    private static final Path BUNDLED = Path.of("target/models");

    private DeepHashService service(Settings settings) {
        return new DeepHashService(settings, BUNDLED, createTempDir(), null, null);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> snapshot(DeepHashService service, String key) {
        return (Map<String, Object>) service.stats().snapshot().get(key);
    }

    @SuppressWarnings("unchecked")
    private static long inferenceCalls(DeepHashService service, EntryPoint entry) {
        return (Long) ((Map<String, Object>) snapshot(service, "inference").get(entry.jsonName())).get("calls");
    }

    public void testBadInputIsRefusedAndCounted() {
        DeepHashService service = service(Settings.builder().put("deep_hash.image.max_bytes", "1kb").build());
        InputException e = expectThrows(InputException.class, () -> service.input("iVBORw0KGgo*not", "field [image]", null, "field [caption]"));
        assertEquals(InputException.Kind.BAD_BASE64, e.kind());
        assertThat(e.getMessage(), containsString("field [image] is not valid base64"));
        e = expectThrows(InputException.class, () -> service.input("data:image/png,abc", "field [image]", null, "field [caption]"));
        assertThat(e.getMessage(), containsString("a data URL without [;base64,]"));
        String big = Base64.getEncoder().encodeToString(new byte[8 * 1024]);
        e = expectThrows(InputException.class, () -> service.input(big, "field [image]", "a cat", "field [caption]"));
        assertEquals(InputException.Kind.IMAGE_TOO_LARGE, e.kind());
        assertThat(e.getMessage(), containsString("over the limit of [1024] bytes (deep_hash.image.max_bytes)"));
        e = expectThrows(InputException.class, () -> service.input(null, "field [image]", 42, "field [caption]"));
        assertEquals("field [caption] is a number [42]: expected a string or an array of strings", e.getMessage());
        Map<String, Object> errors = snapshot(service, "errors");
        assertEquals(Map.of("bad_base64", 2L, "image_too_large", 1L, "wrong_type", 1L), errors);
        service.close();
    }

    public void testAnUnknownModelIsCountedAndNothingIsHashed() {
        DeepHashService service = service(Settings.EMPTY);
        InputException e = expectThrows(
            InputException.class,
            () -> service.hash("nope", new HashInput(null, "a cat"), Set.of(), randomFrom(HashStats.Caller.values()))
        );
        assertEquals(InputException.Kind.UNKNOWN_MODEL, e.kind());
        assertThat(e.getMessage(), containsString("[nope]"));
        assertEquals(Map.of("unknown_model", 1L), snapshot(service, "errors"));
        Map<String, Object> all = service.stats().snapshot();
        for (String caller : List.of("documents_hashed", "queries_hashed", "api_requests")) {
            assertEquals(caller, 0L, all.get(caller));
        }
        service.close();
    }

    /** A picture and a caption call for the fused entry point; the others ride along in the same call, counted once for the caller. */
    public void testImageAndCaptionAreHashedFusedOnce() throws IOException {
        DeepHashService service = service(Settings.EMPTY);
        byte[] png = ImagePreprocessorTests.randomPng();
        String caption = randomFrom("a red apple", "grinning face", "a cat with a hat");
        HashInput input = service.input(Base64.getEncoder().encodeToString(png), "[image]", List.of(caption), "[text]");
        assertEquals(EntryPoint.FUSED, input.entryPoint());
        boolean each = randomBoolean();
        DeepHashService.Hashed hashed = service.hash(
            "default",
            input,
            each ? EnumSet.of(EntryPoint.IMAGE, EntryPoint.TEXT) : Set.of(),
            HashStats.Caller.API
        );
        try (HashModel oracle = HashModel.load(BUNDLED.resolve("default"))) {
            assertEquals(EntryPoint.FUSED, hashed.entryPoint());
            assertEquals(oracle.config().version(), hashed.version());
            HashOutput fused = oracle.hashFused(List.of(png), List.of(caption)).get(0);
            assertEquals(fused.codeHex(), hashed.main().codeHex());
            assertArrayEquals(fused.embedding(), hashed.main().embedding(), 1e-5f);
            if (each) {
                assertEquals(oracle.hashImages(List.of(png)).get(0).codeHex(), hashed.outputs().get(EntryPoint.IMAGE).codeHex());
                assertEquals(oracle.hashTexts(List.of(caption)).get(0).codeHex(), hashed.outputs().get(EntryPoint.TEXT).codeHex());
            } else {
                assertEquals(Set.of(EntryPoint.FUSED), hashed.outputs().keySet());
            }
        }
        Map<String, Object> all = service.stats().snapshot();
        assertEquals(1L, all.get("api_requests"));
        assertEquals(0L, all.get("documents_hashed"));
        assertEquals(0L, all.get("queries_hashed"));
        assertEquals(1L, inferenceCalls(service, EntryPoint.FUSED));
        assertEquals(each ? 1L : 0L, inferenceCalls(service, EntryPoint.IMAGE));
        assertEquals(each ? 1L : 0L, inferenceCalls(service, EntryPoint.TEXT));
        assertEquals(Map.of(), snapshot(service, "errors"));
        service.close();
    }

    public void testAnotherEntryPointNeedsItsInput() {
        DeepHashService service = service(Settings.EMPTY);
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> service.hash("default", new HashInput(null, "a cat"), EnumSet.of(EntryPoint.IMAGE), HashStats.Caller.QUERY)
        );
        assertEquals("the image entry point needs an image", e.getMessage());
        service.close();
    }

    private static Settings modelsPath(String value) {
        return Settings.builder().put("deep_hash.models.path", value).build();
    }

    public void testModelsPathDefaultsToTheConfigDirectory() {
        Path config = createTempDir();
        assertEquals(config.resolve("deep-hash/models"), DeepHashService.modelsPath(Settings.EMPTY, config));
    }

    /** Relative to the config directory, as Elasticsearch's own paths are; absolute as given; missing is no user models. */
    public void testModelsPathRelativeOrAbsolute() throws IOException {
        Path config = createTempDir();
        assertEquals(config.resolve("shared/models"), DeepHashService.modelsPath(modelsPath("shared/models"), config));
        assertEquals(config.getParent().resolve("models"), DeepHashService.modelsPath(modelsPath("../models"), config));
        Path elsewhere = createTempDir().toAbsolutePath();
        assertEquals(elsewhere, DeepHashService.modelsPath(modelsPath(elsewhere.toString()), config));
        Path missing = elsewhere.resolve("not-yet");
        assertEquals(missing, DeepHashService.modelsPath(modelsPath(missing.toString()), config));
        Files.createDirectories(missing);
        assertEquals(missing, DeepHashService.modelsPath(modelsPath(missing + "/"), config));
    }

    public void testModelsPathThatIsAFileStopsTheNode() throws IOException {
        Path config = createTempDir();
        Path file = Files.writeString(config.resolve("models.txt"), "not a directory");
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> DeepHashService.modelsPath(modelsPath(file.toString()), config)
        );
        assertEquals(
            "[deep_hash.models.path] is [" + file + "], which is not a directory: point it at a directory holding one directory per model",
            e.getMessage()
        );
        e = expectThrows(IllegalArgumentException.class, () -> DeepHashService.modelsPath(modelsPath("models.txt"), config));
        assertThat(e.getMessage(), containsString("[deep_hash.models.path] is [models.txt] (in [" + file + "]), which is not a directory"));
    }

    public void testEmptyModelsPathIsRefused() {
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> DeepHashService.modelsPath(modelsPath(randomFrom("", " ")), createTempDir())
        );
        assertThat(e.getMessage(), containsString("[deep_hash.models.path] is empty: expected a directory"));
    }
}
