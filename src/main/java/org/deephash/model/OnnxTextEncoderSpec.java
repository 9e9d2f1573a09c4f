package org.deephash.model;

/**
 * A model's own frozen sentence encoder, {@code text_encoder} of type {@code onnx} in model.json with its
 * {@code tokenizer} of type {@code wordpiece} (see {@link SentenceEncoder}): a BERT-style ONNX graph and its
 * HuggingFace {@code tokenizer.json}, both files of the model directory (in an {@link EncoderSpec}, anywhere).
 *
 * @param file          the encoder graph
 * @param tokenizerFile the uncased WordPiece {@code tokenizer.json} it was trained with
 * @param dimensions    the width of its hidden states and so of an embedding
 * @param pooling       how a text's hidden states become one row
 * @param normalize     whether the row is L2-normalised
 * @param maxTokens     texts are cut to this many ids, [CLS] and [SEP] included
 * @param embedAlone    each text goes through the graph alone ({@code text_encoder.embed_alone}): for a graph whose
 *                      activations are quantized with one scale per batch (langchain4j's int8 MiniLM), where a
 *                      text's embedding would otherwise depend on the other texts of its batch
 */
public record OnnxTextEncoderSpec(
    String file,
    String tokenizerFile,
    int dimensions,
    SentenceEncoder.Pooling pooling,
    boolean normalize,
    int maxTokens,
    boolean embedAlone
) {}
