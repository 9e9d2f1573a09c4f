package org.deephash.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.elasticsearch.test.ESTestCase;
import org.junit.BeforeClass;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;

/**
 * MiniLM's WordPiece tokenizer, from the bundled tokenizer.json, against the training side's
 * ({@code model/wordpiece.py}): the expected ids below and in the parity fixture were written by it.
 */
public class WordPieceTokenizerTests extends ESTestCase {
    /** 2000 captions sampled per language from the training pool and the tricky strings of model/wordpiece_ids.py, with Python's ids. */
    static final String PARITY_FIXTURE = "wordpiece-parity.jsonl";
    static final int CLS = 101;
    static final int SEP = 102;
    static final int UNK = 100;

    private static WordPieceTokenizer tokenizer;

    @BeforeClass
    public static void loadTokenizer() throws IOException {
        try (InputStream in = MiniLmEncoder.openResource(MiniLmEncoder.TOKENIZER_RESOURCE)) {
            tokenizer = WordPieceTokenizer.load(in);
        }
    }

    private static void assertIds(String text, int... expected) {
        assertArrayEquals("ids of [" + text + "]", expected, tokenizer.encode(text, MiniLmEncoder.MAX_TOKENS));
    }

    public void testAccentsAreStrippedAndCaseFolded() {
        assertIds("Café Ünïcödé naïve", CLS, 7668, 27260, 15743, SEP); // cafe unicode naive
        assertIds("İstanbul straße", CLS, 9960, 2358, 27807, SEP);
    }

    /** Python's str.lower(): a capital sigma ends a word before "-" but not before "." (Java's rule is the other way round). */
    public void testSigmaIsLowerCasedAsInPython() {
        assertIds("ΟΔΟΣ-Α ΟΔΟΣ.Α", CLS, 1169, 29722, 15297, 1011, 1155, 1169, 29722, 29730, 29733, 1012, 1155, SEP);
    }

    public void testCjkCharactersAreWordsOfTheirOwn() {
        // Kana are not in BERT's CJK ranges: タワー stays one word.
        assertIds("東京タワー 北京欢迎你", CLS, 1879, 1755, 1709, 30262, 30265, 1781, 1755, UNK, UNK, UNK, SEP);
    }

    public void testPunctuationIsSplitOff() {
        assertIds("hello,world!! (foo) «bar» ¿qué?", CLS, 7592, 1010, 2088, 999, 999, 1006, 29379, 1007, 1077, 3347, 1090, 1094, 10861, 1029, SEP);
        // ASCII symbols count as punctuation although Unicode calls them symbols.
        assertIds("$100 a+b=c", CLS, 1002, 2531, 1037, 1009, 1038, 1027, 1039, SEP);
    }

    public void testEmojiAreUnknownWords() {
        // The skin-tone modifier is a symbol, not a mark: 👍🏽 is one word, one [UNK].
        assertIds("😀 👍🏽 cat 🐈", CLS, UNK, UNK, 4937, UNK, SEP);
    }

    public void testControlAndFormatCharactersAreDropped() {
        // NUL, zero-width space, BEL and soft hyphen vanish and join what they separated.
        assertIds("a\u0000b\u200bc\u0007d\u00ade", CLS, 5925, 3207, SEP);
        assertIds("", CLS, SEP);
        assertIds(" \t\n\r\u00a0\u3000", CLS, SEP);
    }

    public void testWordsOverOneHundredCharactersAreUnknown() {
        assertIds("a".repeat(101), CLS, UNK, SEP);
        // One hundred is still a word: "aaa", 48 times "##aa", "##a".
        int[] hundred = new int[52];
        Arrays.fill(hundred, 11057);
        hundred[0] = CLS;
        hundred[1] = 13360;
        hundred[50] = 2050;
        hundred[51] = SEP;
        assertIds("a".repeat(100), hundred);
        // Characters, not UTF-16 units: 60 letters outside the BMP (120 chars) are under the limit, and unknown for lack of pieces.
        assertIds("𝐀".repeat(60), CLS, UNK, SEP);
        assertIds("𝐀".repeat(101), CLS, UNK, SEP);
        assertIds("unbelievably", CLS, 4895, 8671, 2666, 3567, 6321, SEP);
    }

    /** Truncation keeps the first maxLength - 2 pieces, even in the middle of a word, and always ends with [SEP]. */
    public void testTruncationKeepsSep() throws IOException {
        List<String> texts = new ArrayList<>();
        for (Parity p : readParity(fixture())) {
            texts.add(p.text());
        }
        for (int iter = 0; iter < 200; iter++) {
            StringBuilder text = new StringBuilder();
            for (int i = between(1, 6); i > 0; i--) {
                text.append(randomFrom(texts)).append(randomFrom(" ", ", ", "!", ""));
            }
            int[] full = tokenizer.encode(text.toString(), MiniLmEncoder.MAX_POSITIONS);
            int maxLength = between(2, Math.min(full.length + 3, MiniLmEncoder.MAX_POSITIONS));
            int[] expected = full;
            if (full.length > maxLength) {
                expected = Arrays.copyOf(full, maxLength);
                expected[maxLength - 1] = SEP;
            }
            assertArrayEquals("[" + text + "] cut to " + maxLength, expected, tokenizer.encode(text.toString(), maxLength));
        }
        int[] cut = tokenizer.encode("face ".repeat(200), 128);
        assertThat(cut.length, equalTo(128));
        assertThat(cut[0], equalTo(CLS));
        assertThat(cut[127], equalTo(SEP));
        assertArrayEquals(new int[] { CLS, SEP }, tokenizer.encode("face", 2));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> tokenizer.encode("face", 1));
        assertThat(e.getMessage(), containsString("max length must be at least 2 ([CLS] and [SEP]) but was [1]"));
    }

    /**
     * The Java ids equal Python's for every text of the fixture; {@code -Dtests.wordpiece.parity=FILE}
     * checks another file of the same form (model/wordpiece_ids.py --all writes the whole caption pool).
     */
    public void testSameIdsAsPython() throws IOException {
        List<Parity> cases = readParity(fixture());
        assertThat(cases.size(), greaterThan(1000));
        List<String> mismatches = new ArrayList<>();
        for (Parity p : cases) {
            int[] actual = tokenizer.encode(p.text(), MiniLmEncoder.MAX_TOKENS);
            if (Arrays.equals(actual, p.ids()) == false) {
                mismatches.add(JsonMapper.builder().build().writeValueAsString(p.text()) + ": Python " + Arrays.toString(p.ids()) + ", Java " + Arrays.toString(actual));
            }
        }
        logger.info("WordPiece parity with Python: {} of {} texts agree", cases.size() - mismatches.size(), cases.size());
        if (mismatches.isEmpty() == false) {
            fail(
                mismatches.size() + " of " + cases.size() + " texts get other ids than in Python, for example:\n"
                    + String.join("\n", mismatches.subList(0, Math.min(20, mismatches.size())))
            );
        }
    }

    record Parity(String text, int[] ids) {}

    private static InputStream fixture() throws IOException {
        String file = System.getProperty("tests.wordpiece.parity");
        if (file != null && file.isEmpty() == false) {
            return Files.newInputStream(Path.of(file));
        }
        InputStream in = WordPieceTokenizerTests.class.getResourceAsStream(PARITY_FIXTURE);
        assertNotNull("the test resource [" + PARITY_FIXTURE + "] is missing (written by model/wordpiece_ids.py)", in);
        return in;
    }

    static List<Parity> readParity(InputStream in) throws IOException {
        JsonMapper json = JsonMapper.builder().build();
        List<Parity> result = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = reader.readLine()) != null;) {
                JsonNode node = json.readTree(line);
                int[] ids = new int[node.get("ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = node.get("ids").get(i).asInt();
                }
                result.add(new Parity(node.get("text").asText(), ids));
            }
        }
        return result;
    }
}
