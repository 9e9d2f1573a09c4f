package org.deephash.hamming;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a Hamming search finds its documents: {@link #SCAN} compares the query code with every
 * document's, {@link #INDEX} looks candidates up in an index of the codes, and {@link #AUTO} (the
 * default) leaves the choice to the search.
 */
public enum SearchStrategy {
    AUTO,
    SCAN,
    INDEX;

    /** The lower-case name used in JSON, e.g. {@code scan}. */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The strategy whose {@link #jsonName()} is {@code name}; anything else is an error that lists the
     * choices, worded to follow the parameter's name (e.g. {@code [strategy] must be one of ...}).
     */
    public static SearchStrategy parse(String name) {
        for (SearchStrategy strategy : values()) {
            if (strategy.jsonName().equals(name)) {
                return strategy;
            }
        }
        String choices = Arrays.stream(values()).map(s -> "[" + s.jsonName() + "]").collect(Collectors.joining(", "));
        throw new IllegalArgumentException("must be one of " + choices + " but was [" + name + "]");
    }
}
