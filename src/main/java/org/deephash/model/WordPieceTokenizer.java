package org.deephash.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.deephash.hamming.HashCode;

import java.io.IOException;
import java.io.InputStream;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BERT's uncased WordPiece tokenizer as a HuggingFace {@code tokenizer.json} of type WordPiece with a
 * BertNormalizer (lower case, accents stripped, CJK characters split) and a BertPreTokenizer defines it:
 * control characters dropped, whitespace and punctuation split, each word matched longest-first against
 * the vocabulary with {@code ##} continuations, {@code [UNK]} for a word that cannot be matched or is
 * longer than {@code max_input_chars_per_word}, and {@code [CLS] ... [SEP]} around the pieces.
 * {@code model/wordpiece.py} is the training side's implementation; both must give the golden ids, and
 * WordPieceTokenizerTests checks them on thousands of captions ({@code model/wordpiece_ids.py}).
 *
 * <p>Lower-casing is Python's {@code str.lower()} ({@link WordTokenizer#pythonLower}), not Java's, which
 * differs around the Greek capital sigma. Character classes come from the JDK's Unicode tables and
 * Python's from its own: a character one of them does not know yet is unassigned there, so dropped as a
 * control character, while the other keeps it (JDK 17 knows Unicode 13, Python 3.11 Unicode 14).
 */
public final class WordPieceTokenizer {
    private final Map<String, Integer> vocab;
    private final int unk;
    private final int cls;
    private final int sep;
    private final int maxCharsPerWord;

    private WordPieceTokenizer(Map<String, Integer> vocab, int unk, int maxCharsPerWord) {
        this.vocab = vocab;
        this.unk = unk;
        this.cls = required(vocab, "[CLS]");
        this.sep = required(vocab, "[SEP]");
        this.maxCharsPerWord = maxCharsPerWord;
    }

    /** Reads a {@code tokenizer.json} whose model is WordPiece. */
    public static WordPieceTokenizer load(InputStream tokenizerJson) throws IOException {
        JsonNode root = new ObjectMapper().readTree(tokenizerJson);
        JsonNode model = root.path("model");
        if ("WordPiece".equals(model.path("type").asText()) == false) {
            throw new IllegalArgumentException("tokenizer.json: expected a model of type [WordPiece] but got [" + model.path("type").asText() + "]");
        }
        checkUncasedBert(root, model);
        Map<String, Integer> vocab = new HashMap<>();
        for (Map.Entry<String, JsonNode> entry : model.path("vocab").properties()) {
            vocab.put(entry.getKey(), entry.getValue().asInt());
        }
        String unkToken = model.path("unk_token").asText("[UNK]");
        return new WordPieceTokenizer(vocab, required(vocab, unkToken), model.path("max_input_chars_per_word").asInt(100));
    }

    /**
     * This class is BERT's uncased tokenizer and nothing else: a tokenizer.json that asks for another
     * normalization (cased, accents kept) or another split would give other ids than the ones its encoder
     * was trained on, silently, so it is refused. Settings left out are the tokenizers library's defaults.
     */
    private static void checkUncasedBert(JsonNode root, JsonNode model) {
        JsonNode normalizer = root.path("normalizer");
        boolean uncased = "BertNormalizer".equals(normalizer.path("type").asText())
            && normalizer.path("lowercase").asBoolean(true)
            && normalizer.path("clean_text").asBoolean(true)
            && normalizer.path("handle_chinese_chars").asBoolean(true)
            && (normalizer.path("strip_accents").isNull() || normalizer.path("strip_accents").isMissingNode() || normalizer.path("strip_accents").asBoolean());
        if (uncased == false) {
            throw new IllegalArgumentException(
                "tokenizer.json: expected the normalizer of an uncased BERT tokenizer ({\"type\": \"BertNormalizer\", \"lowercase\": true}, "
                    + "accents stripped) but got " + preview(normalizer)
            );
        }
        if ("BertPreTokenizer".equals(root.path("pre_tokenizer").path("type").asText()) == false) {
            throw new IllegalArgumentException(
                "tokenizer.json: expected the pre-tokenizer [BertPreTokenizer] but got " + preview(root.path("pre_tokenizer"))
            );
        }
        if ("##".equals(model.path("continuing_subword_prefix").asText("##")) == false) {
            throw new IllegalArgumentException(
                "tokenizer.json: expected the continuing subword prefix [##] but got [" + model.path("continuing_subword_prefix").asText() + "]"
            );
        }
    }

    private static String preview(JsonNode node) {
        return node.isMissingNode() ? "nothing" : "[" + HashCode.preview(node.toString()) + "]";
    }

    private static int required(Map<String, Integer> vocab, String token) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException("tokenizer.json: the vocabulary has no [" + token + "]");
        }
        return id;
    }

    /** {@code [CLS]}, the pieces of {@code text} (the first {@code maxLength - 2}), {@code [SEP]}. */
    public int[] encode(String text, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max length must be at least 2 ([CLS] and [SEP]) but was [" + maxLength + "]");
        }
        List<Integer> ids = new ArrayList<>();
        ids.add(cls);
        for (String word : words(text)) {
            for (int id : pieces(word)) {
                if (ids.size() == maxLength - 1) {
                    return withSep(ids);
                }
                ids.add(id);
            }
        }
        return withSep(ids);
    }

    private int[] withSep(List<Integer> ids) {
        ids.add(sep);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The normalized words and punctuation marks of {@code text}. */
    List<String> words(String text) {
        String normalized = normalize(text);
        List<String> words = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < normalized.length();) {
            int cp = normalized.codePointAt(i);
            i += Character.charCount(cp);
            if (isWhitespace(cp) || isPunctuation(cp)) {
                if (current.length() > 0) {
                    words.add(current.toString());
                    current.setLength(0);
                }
                if (isPunctuation(cp)) {
                    words.add(new String(Character.toChars(cp)));
                }
            } else {
                current.appendCodePoint(cp);
            }
        }
        if (current.length() > 0) {
            words.add(current.toString());
        }
        return words;
    }

    private static String normalize(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                continue;
            }
            if (isWhitespace(cp)) {
                out.append(' ');
            } else if (isCjk(cp)) {
                out.append(' ').appendCodePoint(cp).append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        }
        String decomposed = Normalizer.normalize(WordTokenizer.pythonLower(out.toString()), Normalizer.Form.NFD);
        StringBuilder stripped = new StringBuilder(decomposed.length());
        for (int i = 0; i < decomposed.length();) {
            int cp = decomposed.codePointAt(i);
            i += Character.charCount(cp);
            if (Character.getType(cp) != Character.NON_SPACING_MARK) {
                stripped.appendCodePoint(cp);
            }
        }
        return stripped.toString();
    }

    private int[] pieces(String word) {
        if (word.codePointCount(0, word.length()) > maxCharsPerWord) {
            return new int[] { unk };
        }
        List<Integer> ids = new ArrayList<>();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            Integer found = null;
            while (start < end) {
                String piece = start == 0 ? word.substring(start, end) : "##" + word.substring(start, end);
                found = vocab.get(piece);
                if (found != null) {
                    break;
                }
                end = word.offsetByCodePoints(end, -1);
            }
            if (found == null) {
                return new int[] { unk };
            }
            ids.add(found);
            start = end;
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
            || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    private static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    private static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    private static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
            || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
            || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
