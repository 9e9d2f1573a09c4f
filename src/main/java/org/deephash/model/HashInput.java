package org.deephash.model;

import org.deephash.model.ModelConfig.EntryPoint;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one document, query or API request asks a model to hash: a picture's bytes, a caption, or both.
 * The inputs decide the entry point ({@link #entryPoint()}); {@link Parser} turns the values users send
 * (base64, a string or an array of strings) into one, with errors that name the value and say what was
 * expected.
 */
public record HashInput(byte[] image, String text) {
    public HashInput {
        if (image == null && text == null) {
            throw new InputException(InputException.Kind.MISSING_INPUT, "nothing to hash: expected an image, a text or both");
        }
    }

    /**
     * {@code e}, raised while hashing these inputs, with the value it is about in front: the text for a
     * text over the limit or a text-only input, else the image ({@code imageWhat}, {@code textWhat}, e.g.
     * {@code field [image]}). Errors about the model rather than the inputs are returned as they are.
     */
    public InputException named(InputException e, String imageWhat, String textWhat) {
        switch (e.kind()) {
            case UNKNOWN_MODEL, MODEL_UNAVAILABLE, UNSUPPORTED_INPUT:
                return e;
            default:
                return e.withPrefix((e.kind() == InputException.Kind.TEXT_TOO_LONG || image == null ? textWhat : imageWhat) + ": ");
        }
    }

    /** The entry point for these inputs: fused for both, else the one there is. */
    public EntryPoint entryPoint() {
        return image == null ? EntryPoint.TEXT : text == null ? EntryPoint.IMAGE : EntryPoint.FUSED;
    }

    /**
     * A caption from a string, or an array of strings (a label and keywords, blank ones skipped) joined
     * with ", " as the model was trained; anything else is a {@code wrong_type} error naming {@code what}.
     * The processor, the query and the API read captions with it, so each accepts and refuses the same values.
     */
    public static String caption(Object value, String what) {
        if (value instanceof String s) {
            return s;
        }
        if (value instanceof List<?> list) {
            List<String> parts = new ArrayList<>(list.size());
            for (Object o : list) {
                if (o instanceof String == false) {
                    throw new InputException(InputException.Kind.WRONG_TYPE, what + " has " + Parser.withArticle(Parser.typeName(o)) + " in its array: expected strings");
                }
                if (((String) o).isBlank() == false) {
                    parts.add((String) o);
                }
            }
            return String.join(", ", parts);
        }
        throw Parser.wrongType(what, value, "a string or an array of strings");
    }

    /** A picture value, which must be a string (of base64); anything else is a {@code wrong_type} error naming {@code what}. */
    public static String imageValue(Object value, String what) {
        if (value instanceof String base64) {
            return base64;
        }
        throw Parser.wrongType(what, value, "a string of base64 image bytes");
    }

    /**
     * Parses the values users send, refusing base64 whose bytes would be over {@code maxImageBytes}
     * before decoding it; {@code limitName} names that limit in messages (a node setting).
     */
    public record Parser(long maxImageBytes, String limitName) {
        /**
         * The input of an image value and a caption value (null where absent); {@code imageWhat} and
         * {@code textWhat} name them in messages, e.g. {@code field [image]}.
         */
        public HashInput parse(Object image, String imageWhat, Object text, String textWhat) {
            String caption = text == null ? null : caption(text, textWhat);
            if (caption != null && caption.isBlank()) {
                throw new InputException(InputException.Kind.MISSING_INPUT, textWhat + " is empty: expected a caption or keywords to hash");
            }
            if (image instanceof String s && s.isBlank()) {
                throw new InputException(InputException.Kind.EMPTY_IMAGE, imageWhat + " is empty: expected the base64 bytes of a picture to hash");
            }
            return new HashInput(image == null ? null : image(image, imageWhat), caption);
        }

        /**
         * {@code s} without its whitespace (space, tab, line breaks, form feed: the regular expression class
         * {@code \s}), the same string where it has none (base64 from most clients: a regular expression
         * searching 10-100 KB of it cost 5% of a node's Java time while it hashed pictures;
         * bench/run-hashing-profile.sh).
         */
        private static String withoutWhitespace(String s) {
            StringBuilder kept = null;
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                boolean space = c == ' ' || (c >= '\t' && c <= '\r');
                if (space && kept == null) {
                    kept = new StringBuilder(s.length()).append(s, 0, i);
                } else if (space == false && kept != null) {
                    kept.append(c);
                }
            }
            return kept == null ? s : kept.toString();
        }

        /** Image bytes from a value that must be a string of base64 ({@link #decodeImage}). */
        public byte[] image(Object value, String what) {
            return decodeImage(imageValue(value, what), what);
        }

        /**
         * Image bytes from base64 (standard or URL-safe alphabet, line breaks allowed, an optional
         * {@code data:image/...;base64,} prefix).
         */
        public byte[] decodeImage(String base64, String what) {
            String s = base64;
            if (s.startsWith("data:")) {
                int comma = s.indexOf(',');
                if (comma < 0 || s.substring(0, comma).toLowerCase(Locale.ROOT).endsWith(";base64") == false) {
                    throw new InputException(
                        InputException.Kind.BAD_BASE64,
                        what + " is a data URL without [;base64,]: expected base64 image bytes, e.g. [data:image/png;base64,iVBOR...]"
                    );
                }
                s = s.substring(comma + 1);
            }
            if ((long) s.length() / 4 * 3 > maxImageBytes + 3 * 1024L) {
                throw new InputException(
                    InputException.Kind.IMAGE_TOO_LARGE,
                    what + " is [" + s.length() + "] base64 characters, about [" + ((long) s.length() / 4 * 3) + "] bytes, over the limit of ["
                        + maxImageBytes + "] bytes (" + limitName + ")"
                );
            }
            // Line breaks and spaces are dropped; any other character outside the alphabet is an error (the
            // JDK's MIME decoder would skip it silently).
            s = withoutWhitespace(s);
            try {
                return s.indexOf('-') >= 0 || s.indexOf('_') >= 0 ? Base64.getUrlDecoder().decode(s) : Base64.getDecoder().decode(s);
            } catch (IllegalArgumentException e) {
                String start = s.length() > 24 ? s.substring(0, 24) + "..." : s;
                throw new InputException(
                    InputException.Kind.BAD_BASE64,
                    what + " is not valid base64 (" + e.getMessage() + "): got [" + start + "], " + s.length()
                        + " characters; expected the image bytes in base64",
                    e
                );
            }
        }

        /** {@link HashInput#caption}. */
        public String caption(Object value, String what) {
            return HashInput.caption(value, what);
        }

        private static InputException wrongType(String what, Object value, String expected) {
            return new InputException(InputException.Kind.WRONG_TYPE, what + " is " + withArticle(typeName(value)) + ": expected " + expected);
        }

        /** "an object", "an array", "a number [42]"; "null" alone. */
        private static String withArticle(String type) {
            return type.equals("null") ? type : ("aeiou".indexOf(type.charAt(0)) >= 0 ? "an " : "a ") + type;
        }

        private static String typeName(Object value) {
            if (value == null) {
                return "null";
            }
            if (value instanceof Map) {
                return "object";
            }
            if (value instanceof List) {
                return "array";
            }
            if (value instanceof Number) {
                return "number [" + value + "]";
            }
            if (value instanceof Boolean) {
                return "boolean [" + value + "]";
            }
            return value.getClass().getSimpleName();
        }
    }
}
