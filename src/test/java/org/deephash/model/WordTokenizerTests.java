package org.deephash.model;

import org.elasticsearch.test.ESTestCase;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

public class WordTokenizerTests extends ESTestCase {
    private static final List<String> VOCAB = List.of(
        "[PAD]", "[UNK]", "hello", "world", "foo", "bar", "baz", "x²", "½", "3", "οδος", "cafe", "s", "𝐀bc", "cat", "2024", "über"
    );

    private static Map<String, Integer> vocabulary() {
        Map<String, Integer> v = new HashMap<>();
        for (int i = 0; i < VOCAB.size(); i++) {
            v.put(VOCAB.get(i), i);
        }
        return v;
    }

    private static long id(String token) {
        return VOCAB.indexOf(token);
    }

    private static long[] ids(int maxTokens, long pad, String... tokens) {
        long[] result = new long[maxTokens];
        for (int i = 0; i < maxTokens; i++) {
            result[i] = i < tokens.length ? (tokens[i] == null ? 1 : id(tokens[i])) : pad;
        }
        return result;
    }

    private final WordTokenizer tokenizer = new WordTokenizer(vocabulary(), 8, 0, 1);

    public void testPunctuationAndWhitespaceSplit() {
        assertArrayEquals(ids(8, 0, "hello", "world", "foo", "bar", "baz"), tokenizer.tokenize("Hello, world!\tfoo-bar_baz..."));
        assertArrayEquals(ids(8, 0, "foo", "bar"), tokenizer.tokenize("  (foo)\n\n[bar]  "));
    }

    public void testCaseIsFolded() {
        assertArrayEquals(ids(8, 0, "hello", "world", "über"), tokenizer.tokenize("HELLO WoRlD ÜBER"));
        // Greek capital sigma at the end of a word lower-cases to the final sigma, as in Python.
        assertArrayEquals(ids(8, 0, "οδος"), tokenizer.tokenize("ΟΔΟΣ"));
    }

    /** Python's str.lower(), which differs from Java's toLowerCase around the capital sigma; outputs taken from Python 3.11. */
    public void testLowerCaseIsPythons() {
        assertEquals("οδος baz", WordTokenizer.pythonLower("ΟΔΟΣ BAZ"));
        assertEquals("οδος-baz", WordTokenizer.pythonLower("ΟΔΟΣ-BAZ")); // Java: οδοσ-baz
        assertEquals("οδος_baz", WordTokenizer.pythonLower("ΟΔΟΣ_BAZ")); // Java: οδοσ_baz
        assertEquals("οδοσ...baz", WordTokenizer.pythonLower("ΟΔΟΣ...BAZ")); // Java: οδος...baz
        assertEquals("οδοσ·baz", WordTokenizer.pythonLower("ΟΔΟΣ·BAZ")); // Java: οδος·baz
        assertEquals("σ", WordTokenizer.pythonLower("Σ"));
        assertEquals("a\u0301ς", WordTokenizer.pythonLower("A\u0301Σ"));
        assertEquals("i\u0307stanbul", WordTokenizer.pythonLower("İSTANBUL"));
        assertEquals("straße 𝐀 ǆ", WordTokenizer.pythonLower("STRAßE 𝐀 ǅ"));
        String unchanged = "already lower, 123 😀";
        assertSame(unchanged, WordTokenizer.pythonLower(unchanged));
    }

    public void testUnknownWordsGetUnkId() {
        assertArrayEquals(ids(8, 0, "hello", null, "world", null), tokenizer.tokenize("hello there world zzz"));
    }

    /** Python's isalnum: every numeric category counts, not only decimal digits. */
    public void testNumbersAreWordCharactersAsInPython() {
        assertArrayEquals(ids(8, 0, "x²", "½", "3", "2024"), tokenizer.tokenize("x² ½ 3 2024"));
        assertTrue(WordTokenizer.isWordChar('Ⅻ'));
        assertTrue(WordTokenizer.isWordChar('①'));
        assertFalse(WordTokenizer.isWordChar('_'));
        assertFalse(WordTokenizer.isWordChar('\u0301')); // a combining accent is not alphanumeric in Python
    }

    public void testCodePointsOutsideTheBmp() {
        // U+1D400 is a letter (two chars in Java); an emoji is not, so it separates words.
        assertArrayEquals(ids(8, 0, "𝐀bc", "cat", "cat"), tokenizer.tokenize("𝐀bc😀cat🐈cat"));
        // A decomposed accent splits the word, as str.isalnum() does.
        assertArrayEquals(ids(8, 0, "cafe", "s"), tokenizer.tokenize("cafe\u0301s"));
    }

    public void testTruncatesToMaxTokens() {
        assertArrayEquals(ids(8, 0, "foo", "foo", "foo", "foo", "foo", "foo", "foo", "bar"), tokenizer.tokenize("foo ".repeat(7) + "bar baz hello"));
        WordTokenizer one = new WordTokenizer(vocabulary(), 1, 0, 1);
        assertArrayEquals(new long[] { id("cat") }, one.tokenize("cat hello"));
    }

    public void testEmptyTextIsAllPadding() {
        assertArrayEquals(new long[8], tokenizer.tokenize(""));
        assertArrayEquals(new long[8], tokenizer.tokenize(" ,.!? -- \n"));
    }

    public void testPadAndUnkIdsAreThoseGiven() {
        WordTokenizer t = new WordTokenizer(vocabulary(), 4, 5, 6);
        assertArrayEquals(new long[] { id("cat"), 6, 5, 5 }, t.tokenize("cat dog"));
    }

    public void testWritesIntoABatchAtAnOffset() {
        long[] batch = new long[3 * 8];
        java.util.Arrays.fill(batch, -1);
        tokenizer.tokenize("hello", batch, 8);
        assertArrayEquals(ids(8, 0, "hello"), java.util.Arrays.copyOfRange(batch, 8, 16));
        assertEquals(-1, batch[7]);
        assertEquals(-1, batch[16]);
    }

    /** Vocabulary words joined by random separators and in random case come back as their ids. */
    public void testRandomTextsAgainstTheirWords() {
        String[] separators = { " ", ", ", "!", "\n", "-", "_", "😀", " (", ")", "...", "\u3000", "·" };
        int maxTokens = between(1, 12);
        WordTokenizer t = new WordTokenizer(vocabulary(), maxTokens, 0, 1);
        for (int iter = 0; iter < 100; iter++) {
            int words = between(0, 15);
            List<Long> expected = new ArrayList<>();
            StringBuilder text = new StringBuilder(randomBoolean() ? randomFrom(separators) : "");
            for (int w = 0; w < words; w++) {
                String word = VOCAB.get(between(2, VOCAB.size() - 1));
                if (randomBoolean()) {
                    expected.add(id(word));
                } else {
                    word = word + "q";
                    expected.add(1L);
                }
                // Upper case, except a word ending in a sigma: whether it comes back final depends on the separator.
                boolean upper = randomBoolean() && word.endsWith("ς") == false;
                text.append(upper ? word.toUpperCase(Locale.ROOT) : word).append(randomFrom(separators));
            }
            long[] want = new long[maxTokens];
            for (int i = 0; i < Math.min(maxTokens, expected.size()); i++) {
                want[i] = expected.get(i);
            }
            assertArrayEquals(text.toString(), want, t.tokenize(text.toString()));
        }
    }

    public void testMaxTokensMustBePositive() {
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> new WordTokenizer(vocabulary(), 0, 0, 1));
        assertThat(e.getMessage(), containsString("[max_tokens] must be at least 1 but was [0]"));
    }
}
