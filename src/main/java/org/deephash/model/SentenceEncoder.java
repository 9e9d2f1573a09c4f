package org.deephash.model;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A frozen BERT-style sentence encoder as ONNX: uncased {@link WordPieceTokenizer} ids in, the transformer's
 * last hidden states [N, length, D] out, pooled to one row of D floats a text: the mean over the real
 * tokens, or the [CLS] token's state, then L2-normalised if asked. The bundled MiniLM ({@link MiniLmEncoder})
 * is one (mean, normalised); a model's own {@code text_encoder} of type {@code onnx} (bge-small pools [CLS],
 * e5-small the mean) is another.
 *
 * <p>The graph takes {@code input_ids} and {@code attention_mask}, int64 [N, length], and may take
 * {@code token_type_ids} (all 0 for one sentence); no other input. Its hidden states are the output named
 * {@code last_hidden_state} or, if none is, its first output; float32 of rank 3 with D = {@code dimensions}.
 * Both are checked when the session is created. Shorter texts of a batch are padded with id 0 and masked
 * out, so for a float (not quantized) graph a text's embedding is the same alone as in any batch. A graph
 * whose activations are quantized with one scale per batch (langchain4j's int8 MiniLM: a caption moves by up
 * to 0.03 with its batch) is run with {@code embedAlone}: one text per call, so that a text's embedding never
 * depends on what else was hashed with it. Thread-safe; the session is created once.
 */
public final class SentenceEncoder implements AutoCloseable {
    /** BERT's position embeddings: no input may be longer. */
    public static final int MAX_POSITIONS = 512;

    /** How the hidden states of a text's tokens become one row. */
    public enum Pooling {
        MEAN,
        CLS;

        /** The name in {@code text_encoder.pooling}. */
        public String jsonName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Pooling fromJsonName(String name) {
            for (Pooling p : values()) {
                if (p.jsonName().equals(name)) {
                    return p;
                }
            }
            return null;
        }
    }

    private static final String INPUT_IDS = "input_ids";
    private static final String ATTENTION_MASK = "attention_mask";
    private static final String TOKEN_TYPE_IDS = "token_type_ids";

    private final OrtEnvironment env;
    private final OrtSession session;
    private final String hiddenStates;
    private final boolean takesTokenTypes;
    private final WordPieceTokenizer tokenizer;
    private final int maxTokens;
    private final int dimensions;
    private final Pooling pooling;
    private final boolean normalize;
    private final boolean embedAlone;

    /**
     * A session over {@code onnxModel} with the caller's options; texts are cut to {@code maxTokens}
     * WordPiece ids, [CLS] and [SEP] included.
     *
     * @param label how messages name the graph, e.g. {@code [text-encoder.onnx] of model [name]}
     * @param embedAlone each text through the graph in a call of its own (a graph quantized per batch)
     * @throws IllegalArgumentException when the graph's inputs or output are not those of a BERT-style encoder of {@code dimensions}
     */
    public SentenceEncoder(
        OrtEnvironment env,
        byte[] onnxModel,
        String label,
        WordPieceTokenizer tokenizer,
        int maxTokens,
        int dimensions,
        Pooling pooling,
        boolean normalize,
        boolean embedAlone,
        OrtSession.SessionOptions options
    ) throws OrtException {
        if (maxTokens < 2 || maxTokens > MAX_POSITIONS) {
            throw new IllegalArgumentException("max tokens must be from 2 to " + MAX_POSITIONS + " but was [" + maxTokens + "]");
        }
        this.env = env;
        this.tokenizer = tokenizer;
        this.maxTokens = maxTokens;
        this.dimensions = dimensions;
        this.pooling = pooling;
        this.normalize = normalize;
        this.embedAlone = embedAlone;
        try {
            this.session = env.createSession(onnxModel, options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(label + " cannot be loaded by ONNX Runtime: " + e.getMessage() + "; expected an ONNX model", e);
        }
        try {
            Map<String, NodeInfo> inputs = session.getInputInfo();
            Set<String> allowed = Set.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS);
            if (inputs.containsKey(INPUT_IDS) == false || inputs.containsKey(ATTENTION_MASK) == false || allowed.containsAll(inputs.keySet()) == false) {
                throw new IllegalArgumentException(
                    label + " takes the inputs " + new TreeSet<>(inputs.keySet()) + ": expected those of a BERT-style encoder, [input_ids, attention_mask] "
                        + "and optionally [token_type_ids]"
                );
            }
            for (NodeInfo input : inputs.values()) {
                TensorInfo info = input.getInfo() instanceof TensorInfo t ? t : null;
                if (info == null || info.type != OnnxJavaType.INT64 || info.getShape().length != 2) {
                    throw new IllegalArgumentException(
                        label + " has the input [" + input.getName() + "] of " + input.getInfo() + ": expected int64 [N, length]"
                    );
                }
            }
            this.takesTokenTypes = inputs.containsKey(TOKEN_TYPE_IDS);
            Map<String, NodeInfo> outputs = session.getOutputInfo();
            this.hiddenStates = outputs.containsKey("last_hidden_state") ? "last_hidden_state" : outputs.keySet().iterator().next();
            NodeInfo output = outputs.get(hiddenStates);
            TensorInfo info = output.getInfo() instanceof TensorInfo t ? t : null;
            long[] shape = info == null ? null : info.getShape();
            if (info == null || info.type != OnnxJavaType.FLOAT || shape.length != 3 || (shape[2] >= 0 && shape[2] != dimensions)) {
                throw new IllegalArgumentException(
                    label + " gives the hidden states [" + hiddenStates + "] as " + (shape == null ? output.getInfo() : info.type + " " + Arrays.toString(shape))
                        + ": expected FLOAT [N, length, " + dimensions + "], " + dimensions + " being [text_encoder.dimensions]"
                );
            }
        } catch (RuntimeException | OrtException e) {
            try {
                session.close();
            } catch (OrtException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    public WordPieceTokenizer tokenizer() {
        return tokenizer;
    }

    /** Texts are cut to this many WordPiece ids, [CLS] and [SEP] included. */
    public int maxTokens() {
        return maxTokens;
    }

    /** The width of an embedding. */
    public int dimensions() {
        return dimensions;
    }

    public Pooling pooling() {
        return pooling;
    }

    public boolean normalize() {
        return normalize;
    }

    /** Whether each text goes through the graph in a call of its own. */
    public boolean embedAlone() {
        return embedAlone;
    }

    /** The WordPiece ids the encoder takes for {@code text}: [CLS], at most {@code maxTokens - 2} pieces, [SEP]. */
    public int[] tokenIds(String text) {
        return tokenizer.encode(text, maxTokens);
    }

    /** Sentence embeddings of {@code texts}, one row of {@link #dimensions()} each. */
    public float[][] embed(List<String> texts) throws OrtException {
        int n = texts.size();
        if (n == 0) {
            return new float[0][];
        }
        if (embedAlone && n > 1) {
            float[][] out = new float[n][];
            for (int i = 0; i < n; i++) {
                out[i] = embed(List.of(texts.get(i)))[0];
            }
            return out;
        }
        int[][] ids = new int[n][];
        int length = 0;
        for (int i = 0; i < n; i++) {
            ids[i] = tokenIds(texts.get(i));
            length = Math.max(length, ids[i].length);
        }
        // Shorter texts are padded with id 0 and masked out.
        long[] inputIds = new long[n * length];
        long[] mask = new long[n * length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < ids[i].length; j++) {
                inputIds[i * length + j] = ids[i][j];
                mask[i * length + j] = 1;
            }
        }
        long[] shape = { n, length };
        Map<String, OnnxTensor> inputs = new HashMap<>();
        try {
            inputs.put(INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape));
            inputs.put(ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            if (takesTokenTypes) {
                inputs.put(TOKEN_TYPE_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[n * length]), shape));
            }
            try (OrtSession.Result result = session.run(inputs, Set.of(hiddenStates))) {
                OnnxTensor tensor = (OnnxTensor) result.get(0);
                long[] actual = tensor.getInfo().getShape();
                if (actual.length != 3 || actual[0] != n || actual[1] != length || actual[2] != dimensions) {
                    throw new IllegalStateException(
                        "the sentence encoder gave hidden states of shape " + Arrays.toString(actual) + " for " + n + " texts of " + length
                            + " tokens: expected [" + n + ", " + length + ", " + dimensions + "]"
                    );
                }
                return pool(tensor.getFloatBuffer(), ids, length);
            }
        } finally {
            for (OnnxTensor t : inputs.values()) {
                t.close();
            }
        }
    }

    private float[][] pool(FloatBuffer hidden, int[][] ids, int length) {
        int n = ids.length;
        float[][] out = new float[n][dimensions];
        for (int i = 0; i < n; i++) {
            // Summed in float in token order, as the float rows the bundled model was trained on were.
            int tokens = pooling == Pooling.CLS ? 1 : ids[i].length;
            for (int j = 0; j < tokens; j++) {
                int row = (i * length + j) * dimensions;
                for (int d = 0; d < dimensions; d++) {
                    out[i][d] += hidden.get(row + d);
                }
            }
            double norm = 0;
            for (int d = 0; d < dimensions; d++) {
                out[i][d] /= tokens;
                norm += (double) out[i][d] * out[i][d];
            }
            if (normalize) {
                float scale = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
                for (int d = 0; d < dimensions; d++) {
                    out[i][d] *= scale;
                }
            }
        }
        return out;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
