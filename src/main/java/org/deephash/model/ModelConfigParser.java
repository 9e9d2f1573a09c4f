package org.deephash.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.deephash.hamming.HashCode;
import org.deephash.model.ModelConfig.EntryPoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The one reader of model.json and of its encoder blocks wherever they appear ({@link Features}' spec
 * files): every field is checked where it is read, and every problem is an {@link IllegalArgumentException}
 * that starts with the file and names the field, what was found and what was expected. The format itself
 * is described on {@link ModelConfig}. One instance reads one file.
 */
final class ModelConfigParser {
    private static final JsonMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

    private final Path dir;
    private final Path jsonFile;
    /** model.json: files inside the directory, each with a recorded checksum. Else an encoder spec: files anywhere, checksums optional. */
    private final boolean modelDirectory;

    private ModelConfigParser(Path dir, Path jsonFile, boolean modelDirectory) {
        this.dir = dir;
        this.jsonFile = jsonFile;
        this.modelDirectory = modelDirectory;
    }

    /** Reads and checks {@code dir/model.json} (which must exist) and every file it names. */
    static ModelConfig parseModel(Path dir, Path jsonFile) {
        return new ModelConfigParser(dir, jsonFile, true).model(readJson(jsonFile));
    }

    /** Reads and checks an encoder spec (see {@link EncoderSpec}) and the files it names. */
    static EncoderSpec parseSpec(Path jsonFile) {
        Path file = jsonFile.toAbsolutePath().normalize();
        if (Files.isRegularFile(file) == false) {
            throw new IllegalArgumentException("the encoder spec [" + file + "] is not a file: expected a JSON file with the encoder blocks of model.json");
        }
        return new ModelConfigParser(file.getParent(), file, false).spec(readJson(file));
    }

    private static JsonNode readJson(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return JSON.readTree(in);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("[" + file + "] is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read [" + file + "]: " + e, e);
        }
    }

    private void checkObject(JsonNode root) {
        if (root == null || root.isObject() == false) {
            throw error("expected a JSON object at the top level but got " + describe(root));
        }
    }

    private static boolean present(JsonNode root, String field) {
        return root.has(field) && root.get(field).isNull() == false;
    }

    private ModelConfig model(JsonNode root) {
        checkObject(root);
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
        if (embeddingDim < 1 || embeddingDim > ModelConfig.MAX_EMBEDDING_DIM) {
            throw error("[embedding_dim] must be from 1 to " + ModelConfig.MAX_EMBEDDING_DIM + " but was [" + embeddingDim + "]");
        }

        TextEncoder textEncoder = parseTextEncoderType(root);
        boolean hasImageEncoder = present(root, "image_encoder");
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
        OnnxTextEncoderSpec onnxText = null;
        if (textEncoder == TextEncoder.MINILM) {
            // A model that names the MiniLM encoder is held to the bundled one even when it takes images only.
            miniLm = parseMiniLm(requiredObject(root, "text_encoder", "text_encoder"), requiredObject(root, "tokenizer", "tokenizer"));
        } else if (textEncoder == TextEncoder.ONNX) {
            onnxText = parseOnnxText(requiredObject(root, "text_encoder", "text_encoder"), requiredObject(root, "tokenizer", "tokenizer"));
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
        if (onnxText != null) {
            needed.add(onnxText.file());
            needed.add(onnxText.tokenizerFile());
        }
        if (vocabFile != null) {
            needed.add(vocabFile);
        }
        for (String file : needed) {
            if (sha256.containsKey(file) == false) {
                throw error("[sha256] has no checksum for [" + file + "]: expected the SHA-256 (64 hex characters) of every file the model uses: " + needed);
            }
        }
        verifyAll(sha256);

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
            onnxText,
            entryPoints,
            probs,
            embedding,
            sha256
        );
    }

    /**
     * The encoder blocks of model.json, read by the same methods as there: {@code image} (required with
     * {@code image_encoder}), {@code image_encoder}, {@code text_encoder} with its {@code tokenizer}; an
     * optional {@code sha256} whose every entry must match. Other fields are ignored, so a model.json is a
     * spec too.
     */
    private EncoderSpec spec(JsonNode root) {
        checkObject(root);
        boolean hasImageEncoder = present(root, "image_encoder");
        ImageSpec image = hasImageEncoder || present(root, "image") ? parseImage(requiredObject(root, "image", "image")) : null;
        ImageEncoderSpec imageEncoder = hasImageEncoder ? parseImageEncoder(requiredObject(root, "image_encoder", "image_encoder")) : null;
        TextEncoder textEncoder = present(root, "text_encoder") ? parseTextEncoderType(root) : null;
        MiniLmSpec miniLm = textEncoder == TextEncoder.MINILM
            ? parseMiniLm(requiredObject(root, "text_encoder", "text_encoder"), requiredObject(root, "tokenizer", "tokenizer"))
            : null;
        OnnxTextEncoderSpec onnxText = textEncoder == TextEncoder.ONNX
            ? parseOnnxText(requiredObject(root, "text_encoder", "text_encoder"), requiredObject(root, "tokenizer", "tokenizer"))
            : null;
        Map<String, String> sha256 = present(root, "sha256") ? parseSha256(requiredObject(root, "sha256", "sha256")) : Map.of();
        verifyAll(sha256);
        return new EncoderSpec(dir, jsonFile, image, imageEncoder, textEncoder, miniLm, onnxText, sha256);
    }

    private void verifyAll(Map<String, String> sha256) {
        for (Map.Entry<String, String> e : sha256.entrySet()) {
            verifySha256(resolve(e.getKey(), "sha256"), e.getKey(), e.getValue());
        }
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
            List<String> others = new ArrayList<>();
            for (TextEncoder other : TextEncoder.values()) {
                if (other != textEncoder && other.tokenizerType().equals(type)) {
                    others.add("[" + other.jsonName() + "]");
                }
            }
            String hint = others.isEmpty() ? "" : "; a [" + type + "] tokenizer goes with [text_encoder.type] " + String.join(" or ", others);
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
        if (Checksums.isSha256(recorded) == false) {
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

    /**
     * A sentence encoder of the model's own: a BERT-style graph and the uncased WordPiece tokenizer.json it
     * was trained with, both files like any other; every setting the pooling needs is stated, none guessed.
     */
    private OnnxTextEncoderSpec parseOnnxText(JsonNode encoder, JsonNode tokenizer) {
        String file = requiredString(encoder, "file", "text_encoder.file");
        resolve(file, "text_encoder.file");
        int dimensions = requiredInt(encoder, "dimensions", "text_encoder.dimensions");
        if (dimensions < 1 || dimensions > ModelConfig.MAX_EMBEDDING_DIM) {
            throw error("[text_encoder.dimensions] must be from 1 to " + ModelConfig.MAX_EMBEDDING_DIM + " but was [" + dimensions + "]");
        }
        String poolingName = requiredString(encoder, "pooling", "text_encoder.pooling");
        SentenceEncoder.Pooling pooling = SentenceEncoder.Pooling.fromJsonName(poolingName);
        if (pooling == null) {
            throw error(
                "[text_encoder.pooling] must be [mean] (the average of the tokens' hidden states, as e5 and MiniLM) or [cls] (the [CLS] "
                    + "token's, as bge) but was [" + poolingName + "]"
            );
        }
        JsonNode normalize = encoder.get("normalize");
        if (normalize == null || normalize.isNull()) {
            throw missing("text_encoder.normalize", "a boolean (true: embeddings are L2-normalised)");
        }
        if (normalize.isBoolean() == false) {
            throw error("[text_encoder.normalize] must be a boolean but got " + describe(normalize));
        }
        checkTokenizerType(tokenizer, TextEncoder.ONNX);
        String tokenizerFile = requiredString(tokenizer, "file", "tokenizer.file");
        Path tokenizerPath = resolve(tokenizerFile, "tokenizer.file");
        try (InputStream in = Files.newInputStream(tokenizerPath)) {
            WordPieceTokenizer.load(in);
        } catch (IllegalArgumentException e) {
            throw error("[tokenizer.file] [" + tokenizerFile + "] is not a tokenizer the plugin can run: " + e.getMessage());
        } catch (IOException e) {
            throw error("cannot read [tokenizer.file] [" + tokenizerPath + "]: " + e);
        }
        int maxTokens = requiredInt(tokenizer, "max_tokens", "tokenizer.max_tokens");
        if (maxTokens < 2 || maxTokens > SentenceEncoder.MAX_POSITIONS) {
            throw error(
                "[tokenizer.max_tokens] must be from 2 to " + SentenceEncoder.MAX_POSITIONS + " ([CLS], the pieces, [SEP]; BERT-style encoders have "
                    + SentenceEncoder.MAX_POSITIONS + " positions) but was [" + maxTokens + "]"
            );
        }
        JsonNode embedAlone = encoder.get("embed_alone");
        if (embedAlone != null && embedAlone.isNull() == false && embedAlone.isBoolean() == false) {
            throw error(
                "[text_encoder.embed_alone] must be a boolean (true: each text goes through the encoder alone, for a graph whose activations "
                    + "are quantized per batch) but got " + describe(embedAlone)
            );
        }
        boolean alone = embedAlone != null && embedAlone.asBoolean();
        return new OnnxTextEncoderSpec(file, tokenizerFile, dimensions, pooling, normalize.asBoolean(), maxTokens, alone);
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
                List<String> others = new ArrayList<>();
                for (TextEncoder other : TextEncoder.values()) {
                    if (other != textEncoder && sameNames(names, entry.inputs(other, imageEncoder))) {
                        others.add("[" + other.jsonName() + "]");
                    }
                }
                String hint = others.isEmpty()
                    ? ""
                    : " (the inputs of a model whose [text_encoder.type] is " + String.join(" or ", others) + ", but this one's is ["
                        + textEncoder.jsonName() + "])";
                if (sameNames(names, entry.inputs(textEncoder, imageEncoder == false))) {
                    hint = imageEncoder
                        ? " (the inputs of a model without [image_encoder]: with one, the head takes the encoder's features as ["
                            + ModelConfig.IMAGE_FEATURES_INPUT + "])"
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

    private Map<String, String> parseSha256(JsonNode node) {
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            JsonNode v = field.getValue();
            String hex = v.isTextual() ? v.asText().toLowerCase(Locale.ROOT) : null;
            if (hex == null || Checksums.isSha256(hex) == false) {
                throw error("[sha256." + field.getKey() + "] must be a SHA-256 in hex (64 characters) but got " + describe(v));
            }
            result.put(field.getKey(), hex);
        }
        return result;
    }

    private ImageSpec parseImage(JsonNode node) {
        int size = requiredInt(node, "size", "image.size");
        if (size < 1 || size > ModelConfig.MAX_IMAGE_SIZE) {
            throw error("[image.size] must be from 1 to " + ModelConfig.MAX_IMAGE_SIZE + " pixels but was [" + size + "]");
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
        if (dimensions < 1 || dimensions > ModelConfig.MAX_EMBEDDING_DIM) {
            throw error("[image_encoder.dimensions] must be from 1 to " + ModelConfig.MAX_EMBEDDING_DIM + " but was [" + dimensions + "]");
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
        if (maxTokens < 1 || maxTokens > ModelConfig.MAX_TOKENS_LIMIT) {
            throw error("[tokenizer.max_tokens] must be from 1 to " + ModelConfig.MAX_TOKENS_LIMIT + " but was [" + maxTokens + "]");
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

    /**
     * A file named in model.json: inside the directory, and there. In an encoder spec, an absolute path or
     * one relative to the spec's directory, and there.
     */
    private Path resolve(String file, String field) {
        Path p;
        boolean absolute;
        try {
            absolute = Path.of(file).isAbsolute();
            p = dir.resolve(file).normalize();
        } catch (RuntimeException e) {
            throw error("[" + field + "] is not a valid file name: [" + file + "]");
        }
        if (file.isEmpty() || (modelDirectory && (absolute || p.startsWith(dir) == false || p.equals(dir)))) {
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
            actual = Checksums.sha256(path);
        } catch (IOException e) {
            throw error("cannot read [" + path + "] to check its SHA-256: " + e);
        }
        if (actual.equals(expected) == false) {
            throw error(
                "SHA-256 mismatch for [" + file + "]: expected [" + expected + "] (recorded in [sha256]) but the file has [" + actual
                    + "]; the file is corrupt, or was changed without updating " + jsonFile.getFileName()
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
        return new IllegalArgumentException((modelDirectory ? "invalid model [" : "invalid encoder spec [") + jsonFile + "]: " + message);
    }

    private static String describe(JsonNode v) {
        if (v == null) {
            return "nothing";
        }
        String text = v.toString();
        return v.getNodeType().toString().toLowerCase(Locale.ROOT) + " [" + HashCode.preview(text) + "]";
    }
}
