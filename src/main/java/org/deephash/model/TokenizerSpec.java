package org.deephash.model;

import java.util.Map;

/** Word tokenizer settings and the loaded vocabulary (token to id): the LSTM text tower's, {@code tokenizer} in model.json. */
public record TokenizerSpec(int maxTokens, int padId, int unkId, String vocabFile, Map<String, Integer> vocabulary) {}
