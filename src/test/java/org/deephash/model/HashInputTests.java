package org.deephash.model;

import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.test.ESTestCase;

import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

/** Base64 images and captions as users send them, and the entry point their inputs call for. */
public class HashInputTests extends ESTestCase {
    private static final HashInput.Parser PARSER = new HashInput.Parser(1024, "deep_hash.image.max_bytes");

    public void testBase64Forms() {
        HashInput.Parser parser = new HashInput.Parser(10 * 1024 * 1024, "limit");
        byte[] bytes = randomByteArrayOfLength(between(6, 3000));
        String standard = Base64.getEncoder().encodeToString(bytes);
        assertArrayEquals(bytes, parser.decodeImage(standard, "x"));
        assertArrayEquals(bytes, parser.decodeImage(Base64.getMimeEncoder().encodeToString(bytes), "x"));
        assertArrayEquals(bytes, parser.decodeImage("data:image/png;base64," + standard, "x"));
        assertArrayEquals(bytes, parser.decodeImage(Base64.getUrlEncoder().encodeToString(bytes), "x"));
        // Every whitespace character the decoder drops (the regular expression class \s), anywhere.
        for (String space : new String[] { " ", "\t", "\n", "\u000B", "\f", "\r", "\r\n  " }) {
            String spaced = standard.substring(0, 7) + space + standard.substring(7) + space;
            assertArrayEquals(space, bytes, parser.decodeImage(spaced, "x"));
        }
        // A character below the space that is not whitespace is refused, not dropped.
        expectThrows(InputException.class, () -> parser.decodeImage(standard.substring(0, 7) + "\u0001" + standard.substring(7), "x"));
    }

    public void testBadBase64NamesTheValue() {
        InputException e = expectThrows(InputException.class, () -> PARSER.decodeImage("iVBORw0KGgo*not", "field [image]"));
        assertEquals(InputException.Kind.BAD_BASE64, e.kind());
        assertThat(e.getMessage(), containsString("field [image] is not valid base64"));
        assertThat(e.getMessage(), containsString("got [iVBORw0KGgo*not]"));
        e = expectThrows(InputException.class, () -> PARSER.decodeImage("data:image/png,abc", "field [image]"));
        assertEquals(InputException.Kind.BAD_BASE64, e.kind());
        assertThat(e.getMessage(), containsString("a data URL without [;base64,]"));
        String big = Base64.getEncoder().encodeToString(new byte[8 * 1024]);
        e = expectThrows(InputException.class, () -> PARSER.decodeImage(big, "field [image]"));
        assertEquals(InputException.Kind.IMAGE_TOO_LARGE, e.kind());
        assertThat(e.getMessage(), containsString("over the limit of [1024] bytes (deep_hash.image.max_bytes)"));
    }

    public void testWrongTypesNameTheValueAndWhatWasExpected() {
        InputException e = expectThrows(InputException.class, () -> PARSER.parse(42, "field [image]", null, "field [caption]"));
        assertEquals(InputException.Kind.WRONG_TYPE, e.kind());
        assertEquals("field [image] is a number [42]: expected a string of base64 image bytes", e.getMessage());
        e = expectThrows(InputException.class, () -> PARSER.parse(null, "field [image]", Map.of("a", "b"), "field [caption]"));
        assertEquals("field [caption] is an object: expected a string or an array of strings", e.getMessage());
        e = expectThrows(InputException.class, () -> PARSER.parse(null, "field [image]", List.of("a", true), "field [caption]"));
        assertEquals("field [caption] has a boolean [true] in its array: expected strings", e.getMessage());
    }

    public void testCaptionArraysAreJoinedAsTheModelWasTrained() {
        assertEquals("cat, hat", PARSER.caption(List.of("cat", " ", "hat"), "x"));
        assertEquals("a cat", PARSER.caption("a cat", "x"));
    }

    public void testTheInputsChooseTheEntryPoint() {
        byte[] bytes = randomByteArrayOfLength(between(1, 100));
        String base64 = Base64.getEncoder().encodeToString(bytes);
        HashInput both = PARSER.parse(base64, "i", List.of("a", "b"), "t");
        assertEquals(EntryPoint.FUSED, both.entryPoint());
        assertTrue(Arrays.equals(bytes, both.image()));
        assertEquals("a, b", both.text());
        assertEquals(EntryPoint.IMAGE, PARSER.parse(base64, "i", null, "t").entryPoint());
        assertEquals(EntryPoint.TEXT, PARSER.parse(null, "i", "a", "t").entryPoint());
        InputException e = expectThrows(InputException.class, () -> PARSER.parse(null, "i", null, "t"));
        assertEquals(InputException.Kind.MISSING_INPUT, e.kind());
    }
}
