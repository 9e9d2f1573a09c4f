package org.deephash;

import org.deephash.model.InputException;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

/** Base64 image input as users send it, the errors counted by kind, and where users' models are. */
public class DeepHashServiceTests extends ESTestCase {

    private DeepHashService service(Settings settings) {
        return new DeepHashService(settings, null, createTempDir(), null, null);
    }

    public void testBase64Forms() {
        DeepHashService service = service(Settings.EMPTY);
        byte[] bytes = randomByteArrayOfLength(between(1, 3000));
        String standard = Base64.getEncoder().encodeToString(bytes);
        assertArrayEquals(bytes, service.decodeImage(standard, "x"));
        assertArrayEquals(bytes, service.decodeImage(Base64.getMimeEncoder().encodeToString(bytes), "x"));
        assertArrayEquals(bytes, service.decodeImage("data:image/png;base64," + standard, "x"));
        String urlSafe = Base64.getUrlEncoder().encodeToString(bytes);
        assertArrayEquals(bytes, service.decodeImage(urlSafe, "x"));
        service.close();
    }

    @SuppressWarnings("unchecked")
    public void testBadBase64IsRefusedAndCounted() {
        DeepHashService service = service(Settings.builder().put("deep_hash.image.max_bytes", "1kb").build());
        InputException e = expectThrows(InputException.class, () -> service.decodeImage("iVBORw0KGgo*not", "field [image]"));
        assertEquals(InputException.Kind.BAD_BASE64, e.kind());
        assertThat(e.getMessage(), containsString("field [image] is not valid base64"));
        e = expectThrows(InputException.class, () -> service.decodeImage("data:image/png,abc", "field [image]"));
        assertThat(e.getMessage(), containsString("a data URL without [;base64,]"));
        String big = Base64.getEncoder().encodeToString(new byte[8 * 1024]);
        e = expectThrows(InputException.class, () -> service.decodeImage(big, "field [image]"));
        assertEquals(InputException.Kind.IMAGE_TOO_LARGE, e.kind());
        assertThat(e.getMessage(), containsString("over the limit of [1024] bytes (deep_hash.image.max_bytes)"));
        Map<String, Object> errors = (Map<String, Object>) service.stats().snapshot().get("errors");
        assertEquals(2L, errors.get("bad_base64"));
        assertEquals(1L, errors.get("image_too_large"));
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
