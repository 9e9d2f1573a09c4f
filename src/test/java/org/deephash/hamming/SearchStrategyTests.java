package org.deephash.hamming;

import org.elasticsearch.test.ESTestCase;

import java.util.Locale;

public class SearchStrategyTests extends ESTestCase {

    public void testParsesItsJsonName() {
        for (SearchStrategy strategy : SearchStrategy.values()) {
            assertEquals(strategy.name().toLowerCase(Locale.ROOT), strategy.jsonName());
            assertSame(strategy, SearchStrategy.parse(strategy.jsonName()));
        }
    }

    public void testAnythingElseListsTheChoices() {
        for (String name : new String[] { "fast", "SCAN", "", null }) {
            IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> SearchStrategy.parse(name));
            assertEquals("must be one of [auto], [scan], [index] but was [" + name + "]", e.getMessage());
        }
    }
}
