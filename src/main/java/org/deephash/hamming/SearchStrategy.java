package org.deephash.hamming;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How the hamming query searches a segment: chosen per segment by cost, or forced. */
public enum SearchStrategy {
    /** The cheaper of the scan and the multi-index tables by the {@link CostModel}, per segment (the default). */
    AUTO,
    /** Every code. */
    SCAN,
    /** The multi-index tables where a segment has them, whatever they cost; segments without tables are scanned. */
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
