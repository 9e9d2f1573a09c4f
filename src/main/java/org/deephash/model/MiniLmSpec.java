package org.deephash.model;

/**
 * The MiniLM text tower's encoder and tokenizer ({@code text_encoder} and {@code tokenizer} in model.json):
 * class-path resources of the bundled artifact, the encoder's checked against {@code modelSha256}; texts
 * are cut to {@code maxTokens} WordPiece ids.
 */
public record MiniLmSpec(String artifact, String modelResource, String modelSha256, String tokenizerResource, int maxTokens) {}
