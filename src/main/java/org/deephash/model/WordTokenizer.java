package org.deephash.model;

import java.util.Map;

/**
 * The model's word tokenizer, the same as the training side's: lower-case the text, split it into
 * maximal runs of letters and digits, look each run up in the vocabulary (unknown words get
 * {@code unk_id}), keep the first {@code max_tokens} and right-pad with {@code pad_id}.
 *
 * <p>"Letters and digits" is Python's {@code str.isalnum()}, which the training side uses: Unicode
 * letters plus every numeric category (Nd, Nl, No). That is wider than Java's
 * {@link Character#isLetterOrDigit(int)}, which leaves out Nl and No ({@code ²}, {@code ½},
 * {@code Ⅻ}, {@code ①} ...): with it "x²" would be the token "x" here and "x²" in training. Checked
 * over every code point: this predicate and Python 3.11's {@code isalnum} agree on every character
 * that JDK 17 knows; they differ only on characters added to Unicode after the JDK's version.
 *
 * <p>Lower-casing is Python's {@code str.lower()} too ({@link #pythonLower}). Java's
 * {@code toLowerCase(Locale.ROOT)} is the same except for the capital sigma, where Java decides "end of
 * word" with its own rule: {@code "ΟΔΟΣ-Α"} is {@code "οδοσ-α"} in Java and {@code "οδος-α"} in Python,
 * {@code "ΟΔΟΣ.Α"} the other way round; the emoji captions are in 28 languages, Greek among them.
 */
public final class WordTokenizer {
    private final Map<String, Integer> vocabulary;
    private final int maxTokens;
    private final int padId;
    private final int unkId;

    public WordTokenizer(Map<String, Integer> vocabulary, int maxTokens, int padId, int unkId) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("[max_tokens] must be at least 1 but was [" + maxTokens + "]");
        }
        this.vocabulary = Map.copyOf(vocabulary);
        this.maxTokens = maxTokens;
        this.padId = padId;
        this.unkId = unkId;
    }

    public int maxTokens() {
        return maxTokens;
    }

    /** The token ids of {@code text}: exactly {@link #maxTokens()} of them, padded with {@code pad_id}. */
    public long[] tokenize(String text) {
        long[] ids = new long[maxTokens];
        tokenize(text, ids, 0);
        return ids;
    }

    /** Writes the {@link #maxTokens()} ids of {@code text} into {@code dest} from {@code offset} on. */
    public void tokenize(String text, long[] dest, int offset) {
        String lower = pythonLower(text);
        int count = 0;
        int i = 0;
        int n = lower.length();
        while (i < n && count < maxTokens) {
            int cp = lower.codePointAt(i);
            if (isWordChar(cp) == false) {
                i += Character.charCount(cp);
                continue;
            }
            int start = i;
            while (i < n) {
                cp = lower.codePointAt(i);
                if (isWordChar(cp) == false) {
                    break;
                }
                i += Character.charCount(cp);
            }
            Integer id = vocabulary.get(lower.substring(start, i));
            dest[offset + count++] = id == null ? unkId : id;
        }
        for (; count < maxTokens; count++) {
            dest[offset + count] = padId;
        }
    }

    /**
     * Python's {@code str.lower()}: the simple lower-case mapping of every code point (Java's), except
     * U+0130 (capital I with dot) which becomes "i" and a combining dot, and U+03A3 (capital sigma) which
     * becomes the final sigma in Unicode's Final_Sigma context, {@code cased case-ignorable* Σ} not
     * followed by {@code case-ignorable* cased}, tested the way CPython does. Checked against
     * Python 3.11 for every code point alone and in each sigma context.
     */
    static String pythonLower(String text) {
        StringBuilder sb = null;
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            int lower = Character.toLowerCase(cp);
            if (sb == null && lower != cp) {
                sb = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            if (sb != null) {
                if (cp == 0x130) {
                    sb.append("i\u0307");
                } else if (cp == 0x3A3) {
                    sb.append(isFinalSigma(text, i) ? 'ς' : 'σ');
                } else {
                    sb.appendCodePoint(lower);
                }
            }
            i += Character.charCount(cp);
        }
        return sb == null ? text : sb.toString();
    }

    /** CPython's handle_capital_sigma: the sigma at {@code i} ends a word. */
    private static boolean isFinalSigma(String text, int i) {
        int j = i;
        int before = -1;
        while (j > 0) {
            int cp = text.codePointBefore(j);
            j -= Character.charCount(cp);
            if (isCaseIgnorable(cp) == false) {
                before = cp;
                break;
            }
        }
        if (before < 0 || isCased(before) == false) {
            return false;
        }
        for (j = i + 1; j < text.length();) {
            int cp = text.codePointAt(j);
            if (isCaseIgnorable(cp) == false) {
                return isCased(cp) == false;
            }
            j += Character.charCount(cp);
        }
        return true;
    }

    /** Unicode's Cased: Lowercase, Uppercase or titlecase letters (Java's predicates include Other_Lowercase/Uppercase). */
    private static boolean isCased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Unicode's Case_Ignorable: marks, format characters, modifiers, and the apostrophes and mid-word punctuation of Word_Break. */
    private static boolean isCaseIgnorable(int cp) {
        switch (Character.getType(cp)) {
            case Character.NON_SPACING_MARK:
            case Character.ENCLOSING_MARK:
            case Character.FORMAT:
            case Character.MODIFIER_LETTER:
            case Character.MODIFIER_SYMBOL:
                return true;
            default:
                break;
        }
        return switch (cp) {
            // Word_Break MidLetter, MidNumLet and Single_Quote
            case 0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A -> true;
            default -> false;
        };
    }

    /** Python's {@code str.isalnum()} for one code point (see the class comment). */
    static boolean isWordChar(int cp) {
        if (Character.isLetter(cp)) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER;
    }
}
