package org.deephash;

import org.deephash.model.InputException;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.test.ESTestCase;

import java.util.Base64;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

/** Base64 image input as users send it, and the errors counted by kind. */
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
}
