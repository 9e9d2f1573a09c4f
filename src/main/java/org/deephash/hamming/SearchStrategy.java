package org.deephash.hamming;

import java.util.Locale;

/** How the hamming query searches a segment: chosen per segment by cost, or forced. */
public enum SearchStrategy {
    /** The cheaper of the two by the cost model, per segment. */
    AUTO,
    /** Every code. */
    SCAN,
    /** The multi-index tables where a segment has them; segments without tables are scanned. */
    INDEX;

    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static SearchStrategy parse(String value) {
        for (SearchStrategy strategy : values()) {
            if (strategy.jsonName().equals(value)) {
                return strategy;
            }
        }
        throw new IllegalArgumentException("[strategy] must be one of [auto, scan, index] but was [" + value + "]");
    }
}
