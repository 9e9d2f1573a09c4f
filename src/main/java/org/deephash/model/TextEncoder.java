package org.deephash.model;

import java.util.Arrays;
import java.util.List;

/**
 * The model's text tower: what its text input is, and which tokenizer makes it. {@code lstm}: word ids, the
 * whole tower trained; {@code minilm}: the bundled frozen MiniLM's sentence embeddings; {@code onnx}: the
 * sentence embeddings of a frozen BERT-style encoder in the model directory.
 */
public enum TextEncoder {
    LSTM("lstm", ModelConfig.TOKENS_INPUT, ModelConfig.WORD_TOKENIZER),
    MINILM("minilm", ModelConfig.SENTENCE_EMBEDDING_INPUT, ModelConfig.WORDPIECE_TOKENIZER),
    ONNX("onnx", ModelConfig.SENTENCE_EMBEDDING_INPUT, ModelConfig.WORDPIECE_TOKENIZER);

    private final String jsonName;
    private final String textInput;
    private final String tokenizerType;

    TextEncoder(String jsonName, String textInput, String tokenizerType) {
        this.jsonName = jsonName;
        this.textInput = textInput;
        this.tokenizerType = tokenizerType;
    }

    /** The name in {@code text_encoder.type}. */
    public String jsonName() {
        return jsonName;
    }

    /** The ONNX input name of text: {@code tokens} or {@code sentence_embedding}. */
    public String textInput() {
        return textInput;
    }

    /** The {@code tokenizer.type} that goes with this encoder. */
    public String tokenizerType() {
        return tokenizerType;
    }

    public static TextEncoder fromJsonName(String name) {
        for (TextEncoder e : values()) {
            if (e.jsonName.equals(name)) {
                return e;
            }
        }
        return null;
    }

    static List<String> jsonNames() {
        return Arrays.stream(values()).map(TextEncoder::jsonName).toList();
    }
}
