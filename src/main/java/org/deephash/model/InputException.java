package org.deephash.model;

import java.util.Locale;

/**
 * Something wrong with what a caller asked the model to hash (never with the model itself): an image
 * that is too large, corrupt or in an unsupported format, a text that is too long, bad base64, an
 * unknown model. The {@link Kind} is what the node's statistics count errors by; the message says
 * what came in and what was expected.
 */
public class InputException extends IllegalArgumentException {
    /** What went wrong, named as the statistics and error responses name it. */
    public enum Kind {
        EMPTY_IMAGE,
        IMAGE_TOO_LARGE,
        UNSUPPORTED_IMAGE,
        CORRUPT_IMAGE,
        BAD_BASE64,
        TEXT_TOO_LONG,
        MISSING_INPUT,
        WRONG_TYPE,
        UNKNOWN_MODEL,
        MODEL_UNAVAILABLE,
        UNSUPPORTED_INPUT;

        /** The lower-case name used in JSON, e.g. {@code image_too_large}. */
        public String jsonName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Kind kind;

    public InputException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public InputException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** The same kind with {@code prefix} in front of the message (e.g. which field or which image of a batch). */
    public InputException withPrefix(String prefix) {
        return new InputException(kind, prefix + getMessage(), this);
    }
}
