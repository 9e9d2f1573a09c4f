package org.deephash.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * A model with a frozen picture encoder chained before its heads, on the fixture that
 * {@code src/test/python/make_encoder_fixture.py} writes: a 32x32 picture, an encoder whose output is a
 * [N, 16, 8, 8] feature map, heads of 32 bits. The golden items are PyTorch's numbers.
 */
public class ImageEncoderTests extends ESTestCase {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The fixture's model directory (a copy Maven put under target/test-classes). */
    static Path fixture() {
        return resource("chained");
    }

    static Path variant(String file) {
        return resource("chained-variants").resolve(file);
    }

    private static Path resource(String name) {
        try {
            return Path.of(Objects.requireNonNull(ImageEncoderTests.class.getResource(name), name).toURI());
        } catch (java.net.URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private static List<GoldenVectorsTests.Golden> golden() throws IOException {
        return GoldenVectorsTests.readGolden(fixture().resolve("golden.json"));
    }

    /** A copy of the fixture with {@code files} added, model.json edited and every checksum (the added files' too) recomputed. */
    private Path copy(Consumer<ObjectNode> edit, Path... files) throws IOException {
        Path dir = createTempDir();
        try (var list = Files.list(fixture())) {
            for (Path file : list.toList()) {
                Files.copy(file, dir.resolve(file.getFileName().toString()));
            }
        }
        for (Path file : files) {
            Files.copy(file, dir.resolve(file.getFileName().toString()));
        }
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("model.json").toFile());
        edit.accept(config);
        ObjectNode sha = (ObjectNode) config.get("sha256");
        for (Path file : files) {
            sha.put(file.getFileName().toString(), "");
        }
        List<String> names = new ArrayList<>();
        sha.fieldNames().forEachRemaining(names::add);
        for (String name : names) {
            sha.put(name, Checksums.sha256(dir.resolve(name)));
        }
        Files.writeString(dir.resolve("model.json"), JSON.writeValueAsString(config), StandardCharsets.UTF_8);
        return dir;
    }

    private static ObjectNode encoder(ObjectNode root) {
        return (ObjectNode) root.get("image_encoder");
    }

    /** The whole chain gives PyTorch's codes to the bit, each item alone and each entry point's items in one batch. */
    public void testGoldenVectorsThroughTheChain() throws IOException {
        List<GoldenVectorsTests.Golden> golden = golden();
        try (HashModel model = HashModel.load(fixture())) {
            assertNotNull(model.imageEncoder());
            for (GoldenVectorsTests.Golden g : golden) {
                GoldenVectorsTests.check(g, GoldenVectorsTests.hash(model, List.of(g)).get(0));
                if (g.imageFeatures() != null) {
                    float[] features = model.imageFeatures(List.of(g.image()))[0];
                    GoldenVectorsTests.assertClose(g.name() + ": image_features", g.imageFeatures(), features, GoldenVectorsTests.FEATURES_TOLERANCE);
                }
            }
            for (EntryPoint entry : EntryPoint.values()) {
                List<GoldenVectorsTests.Golden> batch = new ArrayList<>(golden.stream().filter(g -> g.entry() == entry).toList());
                assertFalse("the fixture has no " + entry.jsonName() + " items", batch.isEmpty());
                Collections.shuffle(batch, random());
                List<HashOutput> outputs = GoldenVectorsTests.hash(model, batch);
                for (int i = 0; i < batch.size(); i++) {
                    GoldenVectorsTests.check(batch.get(i), outputs.get(i));
                }
            }
        }
    }

    /**
     * HashModel's chain is exactly the two sessions run by hand: the preprocessed pictures through the
     * encoder, its map averaged over H and W, the rows through the head (the same numbers, to the bit).
     */
    public void testChainIsTheTwoSessionsRunByHand() throws Exception {
        List<GoldenVectorsTests.Golden> golden = golden();
        List<byte[]> pictures = golden.stream().map(GoldenVectorsTests.Golden::image).filter(Objects::nonNull).toList();
        List<byte[]> batch = new ArrayList<>();
        for (int i = between(1, 6); i > 0; i--) {
            batch.add(randomFrom(pictures));
        }
        int n = batch.size();
        ModelConfig config = ModelConfig.load(fixture());
        ImagePreprocessor preprocessor = new ImagePreprocessor(config.image(), 1 << 20, 1 << 20);
        float[] pixels = new float[n * preprocessor.tensorLength()];
        for (int i = 0; i < n; i++) {
            preprocessor.preprocess(batch.get(i), pixels, i * preprocessor.tensorLength());
        }
        long[] tokens = new long[n * 8];
        List<String> texts = new ArrayList<>();
        WordTokenizer words = new WordTokenizer(config.tokenizer().vocabulary(), 8, 0, 1);
        for (int i = 0; i < n; i++) {
            texts.add(randomFrom("a red circle", "blue", "small white square", randomAlphaOfLength(4)));
            words.tokenize(texts.get(i), tokens, i * 8);
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[][] byHandImage;
        float[][] byHandFused;
        float[] features;
        try (
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            OrtSession encoder = env.createSession(fixture().resolve("image-encoder.onnx").toString(), options);
            OrtSession imageHead = env.createSession(fixture().resolve("image.onnx").toString(), options);
            OrtSession fusedHead = env.createSession(fixture().resolve("fused.onnx").toString(), options)
        ) {
            try (
                OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(pixels), new long[] { n, 3, 32, 32 });
                OrtSession.Result result = encoder.run(Map.of("pixels", in))
            ) {
                float[][][][] map = (float[][][][]) result.get("features").get().getValue();
                assertThat(map.length, equalTo(n));
                features = new float[n * 16];
                for (int i = 0; i < n; i++) {
                    for (int d = 0; d < 16; d++) {
                        double sum = 0;
                        for (float[] row : map[i][d]) {
                            for (float v : row) {
                                sum += v;
                            }
                        }
                        features[i * 16 + d] = (float) (sum / 64);
                    }
                }
            }
            try (
                OnnxTensor f = OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] { n, 16 });
                OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(tokens), new long[] { n, 8 });
                OrtSession.Result image = imageHead.run(Map.of("image_features", f));
                OrtSession.Result fused = fusedHead.run(Map.of("image_features", f, "tokens", t))
            ) {
                byHandImage = (float[][]) image.get("probs").get().getValue();
                byHandFused = (float[][]) fused.get("probs").get().getValue();
            }
        }
        try (HashModel model = new HashModel(config, between(1, 2), 1 << 20, 1 << 20)) {
            float[][] rows = model.imageFeatures(batch);
            List<HashOutput> image = model.hashImages(batch);
            List<HashOutput> fused = model.hashFused(batch, texts);
            for (int i = 0; i < n; i++) {
                assertArrayEquals(java.util.Arrays.copyOfRange(features, i * 16, (i + 1) * 16), rows[i], 0f);
                assertArrayEquals(byHandImage[i], image.get(i).probs(), 0f);
                assertArrayEquals(byHandFused[i], fused.get(i).probs(), 0f);
                assertThat(image.get(i).codeHex(), equalTo(new HashOutput(HashOutput.pack(byHandImage[i], 0.5f), byHandImage[i], new float[0]).codeHex()));
                Map<EntryPoint, HashOutput> each = model.hashEach(batch.get(i), texts.get(i), EnumSet.allOf(EntryPoint.class));
                assertArrayEquals(byHandImage[i], each.get(EntryPoint.IMAGE).probs(), 0f);
                assertArrayEquals(byHandFused[i], each.get(EntryPoint.FUSED).probs(), 0f);
            }
        }
    }

    /** An encoder that pools inside its graph, output [N, 16], gives what the [N, 16, 8, 8] one gives averaged in Java. */
    public void testEncoderOfRankTwo() throws IOException {
        Path dir = copy(root -> encoder(root).put("file", "image-encoder-pooled.onnx"), variant("image-encoder-pooled.onnx"));
        // The checksum of the unused image-encoder.onnx stays recorded and checked: harmless.
        List<GoldenVectorsTests.Golden> golden = golden();
        try (HashModel pooled = HashModel.load(dir); HashModel mapped = HashModel.load(fixture())) {
            for (GoldenVectorsTests.Golden g : golden) {
                if (g.image() != null) {
                    assertArrayEquals(g.name(), mapped.imageFeatures(List.of(g.image()))[0], pooled.imageFeatures(List.of(g.image()))[0], 1e-6f);
                    GoldenVectorsTests.check(g, GoldenVectorsTests.hash(pooled, List.of(g)).get(0));
                }
            }
        }
    }

    /** The chain over MiniLM: the fused head takes the encoder's features and the caption's sentence embedding. */
    public void testChainWithMiniLmText() throws Exception {
        Path dir = copy(root -> {
            ObjectNode text = root.putObject("text_encoder");
            text.put("type", "minilm");
            text.put("artifact", MiniLmEncoder.ARTIFACT);
            text.put("model_resource", MiniLmEncoder.MODEL_RESOURCE);
            try {
                text.put("model_sha256", MiniLmEncoder.resourceSha256(MiniLmEncoder.MODEL_RESOURCE));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            text.put("dimensions", 384);
            ObjectNode tokenizer = root.putObject("tokenizer");
            tokenizer.put("type", "wordpiece");
            tokenizer.put("resource", MiniLmEncoder.TOKENIZER_RESOURCE);
            tokenizer.put("max_tokens", 128);
            ObjectNode entries = (ObjectNode) root.get("entry_points");
            entries.remove("text");
            ObjectNode fused = (ObjectNode) entries.get("fused");
            fused.put("file", "fused-minilm.onnx");
            ((ArrayNode) fused.get("inputs")).removeAll().add("image_features").add("sentence_embedding");
            ObjectNode sha = (ObjectNode) root.get("sha256");
            sha.remove(List.of("text.onnx", "fused.onnx", "vocab.txt"));
        }, variant("fused-minilm.onnx"));
        byte[] picture = golden().get(0).image();
        String caption = "a red circle on white";
        try (HashModel model = HashModel.load(dir)) {
            float[] features = model.imageFeatures(List.of(picture))[0];
            float[] sentence = model.sentenceEmbeddings(List.of(caption))[0];
            float[] expected;
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (
                OrtSession head = env.createSession(dir.resolve("fused-minilm.onnx").toString(), new OrtSession.SessionOptions());
                OnnxTensor f = OnnxTensor.createTensor(env, FloatBuffer.wrap(features), new long[] { 1, 16 });
                OnnxTensor s = OnnxTensor.createTensor(env, FloatBuffer.wrap(sentence), new long[] { 1, 384 });
                OrtSession.Result result = head.run(Map.of("image_features", f, "sentence_embedding", s))
            ) {
                expected = ((float[][]) result.get("probs").get().getValue())[0];
            }
            HashOutput out = model.hashFused(List.of(picture), List.of(caption)).get(0);
            assertArrayEquals(expected, out.probs(), 0f);
            assertThat(model.config().inputs(EntryPoint.FUSED), equalTo(List.of("image_features", "sentence_embedding")));
        }
    }

    public void testOutputOfAnotherRankIsRefused() throws IOException {
        Path dir = copy(root -> encoder(root).put("file", "image-encoder-rank3.onnx"), variant("image-encoder-rank3.onnx"));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(
            e.getMessage(),
            equalTo(
                "[image-encoder-rank3.onnx] of model [chained] has the output [features] of type FLOAT and shape [N, ?, ?]: expected FLOAT [N, 16] "
                    + "or [N, 16, H, W] (averaged over H and W), 16 being [image_encoder.dimensions]"
            )
        );
    }

    public void testWrongDimensionsAreRefused() throws IOException {
        int dims = randomValueOtherThan(16, () -> between(1, 4096));
        Path dir = copy(root -> encoder(root).put("dimensions", dims));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(
            e.getMessage(),
            equalTo(
                "[image-encoder.onnx] of model [chained] has the output [features] of type FLOAT and shape [N, 16, 8, 8]: expected FLOAT [N, "
                    + dims + "] or [N, " + dims + ", H, W] (averaged over H and W), " + dims + " being [image_encoder.dimensions]"
            )
        );
    }

    public void testNamesAbsentFromTheGraphAreRefused() throws IOException {
        Path dir = copy(root -> encoder(root).put("input", "image"));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(
            e.getMessage(),
            equalTo("[image-encoder.onnx] of model [chained] has no input [image] (named in [image_encoder.input]): its inputs are [pixels]")
        );
        Path other = copy(root -> encoder(root).put("output", "logits"));
        e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(other));
        assertThat(
            e.getMessage(),
            equalTo("[image-encoder.onnx] of model [chained] has no output [logits] (named in [image_encoder.output]): its outputs are [features]")
        );
    }

    public void testPictureSizeMustBeTheEncoders() throws IOException {
        Path dir = copy(root -> ((ObjectNode) root.get("image")).put("size", 64));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(
            e.getMessage(),
            equalTo(
                "[image-encoder.onnx] of model [chained] has the input [pixels] of type FLOAT and shape [N, 3, 32, 32] but the pictures are "
                    + "FLOAT [N, 3, 64, 64] ([image.size] is 64)"
            )
        );
    }

    /** A head that takes the pictures themselves cannot sit after an encoder: model.json says what it takes. */
    public void testHeadMustTakeTheFeatures() throws IOException {
        Path dir = copy(root -> ((ObjectNode) root.get("entry_points")).putObject("image").put("file", "text.onnx").putArray("inputs").add("image_features"));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(e.getMessage(), equalTo("[text.onnx] of model [chained] takes the inputs [tokens] but the image entry point needs [image_features]"));
    }

    /** A model that takes no pictures has no features to give, with its encoder named in model.json or not. */
    public void testImageFeaturesNeedAPictureEntryPoint() throws IOException {
        for (boolean withEncoder : new boolean[] { true, false }) {
            Path dir = copy(root -> {
                ((ObjectNode) root.get("entry_points")).remove(List.of("image", "fused"));
                ((ObjectNode) root.get("sha256")).remove(List.of("image.onnx", "fused.onnx"));
                if (withEncoder == false) {
                    root.remove("image_encoder");
                    ((ObjectNode) root.get("sha256")).remove("image-encoder.onnx");
                }
            });
            try (HashModel model = HashModel.load(dir)) {
                assertNull(model.imageEncoder());
                assertEquals(withEncoder, model.config().imageEncoder() != null);
                IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> model.imageFeatures(List.of(new byte[1])));
                assertThat(e.getMessage(), equalTo("model [chained] takes no images: it has no image or fused entry point"));
            }
        }
    }

    public void testClosedModelRefusesFeatures() throws IOException, OrtException {
        HashModel model = HashModel.load(fixture());
        byte[] picture = golden().get(0).image();
        model.close();
        IllegalStateException e = expectThrows(IllegalStateException.class, () -> model.imageFeatures(List.of(picture)));
        assertThat(e.getMessage(), equalTo("model [chained] is closed"));
    }
}
