package org.deephash.model;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.test.ESTestCase;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** How a loaded model behaves around the edges; the numbers themselves are GoldenVectorsTests' business. */
public class HashModelTests extends ESTestCase {

    /** A copy of the shipped model with model.json edited. */
    private Path editedCopy(Consumer<ObjectNode> edit) throws IOException {
        Path source = GoldenVectorsTests.modelDir();
        Path dir = createTempDir();
        try (var files = Files.list(source)) {
            for (Path file : files.toList()) {
                Files.copy(file, dir.resolve(file.getFileName().toString()));
            }
        }
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode config = (ObjectNode) json.readTree(dir.resolve("model.json").toFile());
        edit.accept(config);
        Files.writeString(dir.resolve("model.json"), json.writeValueAsString(config), StandardCharsets.UTF_8);
        return dir;
    }

    /** One call for every entry point gives what the three single calls give, with the cache and without. */
    public void testHashEachMatchesTheSingleCalls() throws IOException {
        List<String> sample = Files.readAllLines(Path.of("demo/emoji-test-sample.ndjson"), StandardCharsets.UTF_8);
        JsonMapper json = JsonMapper.builder().build();
        java.util.Map<String, float[]> store = new java.util.concurrent.ConcurrentHashMap<>();
        HashModel.SentenceCache cache = randomBoolean() ? null : new HashModel.SentenceCache() {
            @Override
            public float[] get(String text) {
                return store.get(text);
            }

            @Override
            public void put(String text, float[] embedding) {
                store.put(text, embedding);
            }
        };
        ModelConfig config = ModelConfig.load(GoldenVectorsTests.modelDir());
        try (HashModel model = new HashModel(config, new HashModel.Options(1, 1 << 20, 1 << 20, 10_000, cache))) {
            for (int i = 0; i < 5; i++) {
                var doc = json.readTree(sample.get(between(0, sample.size() - 1)));
                byte[] png = java.util.Base64.getDecoder().decode(doc.get("image").asText());
                List<String> parts = new ArrayList<>();
                doc.get("caption").forEach(c -> parts.add(c.asText()));
                String text = String.join(", ", parts);
                var each = model.hashEach(png, text, java.util.EnumSet.allOf(EntryPoint.class));
                assertEquals(model.hashImages(List.of(png)).get(0).codeHex(), each.get(EntryPoint.IMAGE).codeHex());
                assertEquals(model.hashTexts(List.of(text)).get(0).codeHex(), each.get(EntryPoint.TEXT).codeHex());
                HashOutput fused = model.hashFused(List.of(png), List.of(text)).get(0);
                assertEquals(fused.codeHex(), each.get(EntryPoint.FUSED).codeHex());
                assertArrayEquals(fused.embedding(), each.get(EntryPoint.FUSED).embedding(), 1e-6f);
                var imageOnly = model.hashEach(png, null, java.util.EnumSet.allOf(EntryPoint.class));
                assertEquals(java.util.Set.of(EntryPoint.IMAGE), imageOnly.keySet());
            }
        }
    }

    /**
     * The bundled model's image and fused towers share the backbone up to where the image tower's tuning
     * starts: export.py writes that part once, as the model's image encoder, and both picture heads read its
     * rows (GoldenVectorsTests checks their codes against PyTorch's, which ran each tower whole).
     */
    public void testBundledModelSharesItsPictureTrunk() throws IOException {
        try (HashModel model = HashModel.load(GoldenVectorsTests.modelDir())) {
            ImageEncoderSpec trunk = model.config().imageEncoder();
            assertNotNull(trunk);
            assertEquals("image-trunk.onnx", trunk.file());
            assertEquals("image", trunk.input());
            assertNotNull(model.imageEncoder());
            assertThat(model.config().imageInput(), equalTo(ModelConfig.IMAGE_FEATURES_INPUT));
            for (EntryPoint entry : model.config().entryPoints().keySet()) {
                assertEquals(entry.takesImage(), model.config().inputs(entry).contains(ModelConfig.IMAGE_FEATURES_INPUT));
            }
        }
    }

    public void testSignatureMismatchIsRefusedAtLoad() throws IOException {
        Path dir = editedCopy(root -> root.put("bits", root.get("bits").asInt() * 2));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(e.getMessage(), containsString("has the output [probs] of type FLOAT and shape"));
        assertThat(e.getMessage(), containsString("but model.json needs FLOAT [N, "));

        Path renamed = editedCopy(root -> ((ObjectNode) root.get("outputs")).put("probs", "bits"));
        e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(renamed));
        assertThat(e.getMessage(), containsString("has no output [bits] (named in model.json's [outputs])"));
    }

    public void testNotAnOnnxFile() throws IOException {
        Path dir = editedCopy(root -> {});
        Files.writeString(dir.resolve("text.onnx"), "not a model", StandardCharsets.UTF_8);
        ObjectNode config = (ObjectNode) JsonMapper.builder().build().readTree(dir.resolve("model.json").toFile());
        ((ObjectNode) config.get("sha256")).put("text.onnx", Checksums.sha256(dir.resolve("text.onnx")));
        Files.writeString(dir.resolve("model.json"), config.toString(), StandardCharsets.UTF_8);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dir));
        assertThat(e.getMessage(), containsString("ONNX Runtime cannot load [" + dir.toAbsolutePath().normalize().resolve("text.onnx") + "]"));
    }

    public void testCallsThatCannotWork() throws IOException {
        Path dir = editedCopy(root -> ((ObjectNode) root.get("entry_points")).remove("text"));
        HashModel model = new HashModel(ModelConfig.load(dir), between(1, 2), 1 << 20, 1 << 20);
        try {
            assertFalse(model.has(EntryPoint.TEXT));
            IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> model.hashTexts(List.of("cat")));
            assertThat(e.getMessage(), containsString("has no text entry point; it has [image, fused]"));
            assertThat(model.hashImages(List.of()), equalTo(List.of()));
            e = expectThrows(IllegalArgumentException.class, () -> model.hashFused(List.of(new byte[1]), List.of("a", "b")));
            assertThat(e.getMessage(), containsString("takes (image, text) pairs but got 1 images and 2 texts"));
            e = expectThrows(IllegalArgumentException.class, () -> model.hashImages(List.of(validImage(model), new byte[] { 1, 2, 3 })));
            assertThat(e.getMessage(), containsString("image [1]: the image is not a PNG, JPEG, GIF, BMP or WebP image"));
            model.close();
            IllegalStateException closed = expectThrows(IllegalStateException.class, () -> model.hashImages(List.of(validImage(model))));
            assertThat(closed.getMessage(), containsString("is closed"));
        } finally {
            model.close(); // again: a no-op
        }
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> new HashModel(ModelConfig.load(dir), 0, 1, 1));
        assertThat(e.getMessage(), containsString("intra-op threads must be from 1 to 64 but was [0]"));
    }

    /** More intra-op threads change nothing in the answers. */
    public void testIntraOpThreadsGiveTheSameCodes() throws IOException {
        List<GoldenVectorsTests.Golden> golden = GoldenVectorsTests.readGolden(GoldenVectorsTests.modelDir().resolve("golden.json"));
        GoldenVectorsTests.Golden g = randomFrom(golden);
        try (HashModel model = new HashModel(ModelConfig.load(GoldenVectorsTests.modelDir()), 2, 1 << 20, 1 << 24)) {
            HashOutput out = switch (g.entry()) {
                case IMAGE -> model.hashImages(List.of(g.image())).get(0);
                case TEXT -> model.hashTexts(List.of(g.text())).get(0);
                case FUSED -> model.hashFused(List.of(g.image()), List.of(g.text())).get(0);
            };
            assertThat(g.name(), out.codeHex(), equalTo(g.code()));
            for (int i = 0; i < g.embedding().length; i++) {
                assertEquals(g.name(), g.embedding()[i], out.embedding()[i], GoldenVectorsTests.TOLERANCE);
            }
        }
    }

    /**
     * With the MiniLM text tower a text's sentence embedding, code, probabilities and embedding are the
     * same to the bit alone and in any batch: the encoder masks the padding of shorter texts out, and
     * the heads over it are plain matrix products. The LSTM's are not (one ulp here and there, ONNX
     * Runtime's LSTM kernel sums in another order for another batch size): within 1e-5 there.
     */
    public void testBatchesGiveWhatSingleInputsGive() throws IOException {
        List<GoldenVectorsTests.Golden> golden = GoldenVectorsTests.readGolden(GoldenVectorsTests.modelDir().resolve("golden.json"));
        List<String> texts = new ArrayList<>(golden.stream().map(GoldenVectorsTests.Golden::text).filter(Objects::nonNull).toList());
        for (int i = between(5, 20); i > 0; i--) {
            texts.add(randomBoolean() ? randomRealisticUnicodeOfCodepointLengthBetween(0, 200) : randomAlphaOfLengthBetween(1, 30) + " face");
        }
        Collections.shuffle(texts, random());
        List<byte[]> images = golden.stream().map(GoldenVectorsTests.Golden::image).filter(Objects::nonNull).toList();
        try (HashModel model = new HashModel(ModelConfig.load(GoldenVectorsTests.modelDir()), between(1, 2), 1 << 20, 1 << 24)) {
            float tolerance = model.sentenceEncoder() != null ? 0f : (float) GoldenVectorsTests.TOLERANCE;
            float threshold = (float) model.config().threshold();
            if (model.sentenceEncoder() != null) {
                float[][] batch = model.sentenceEmbeddings(texts);
                for (int i = 0; i < texts.size(); i++) {
                    assertArrayEquals("sentence embedding of [" + texts.get(i) + "]", model.sentenceEmbeddings(List.of(texts.get(i)))[0], batch[i], 0f);
                }
            }
            if (model.has(EntryPoint.TEXT)) {
                List<HashOutput> batch = model.hashTexts(texts);
                for (int i = 0; i < texts.size(); i++) {
                    assertSameOutput("text [" + texts.get(i) + "]", model.hashTexts(List.of(texts.get(i))).get(0), batch.get(i), tolerance, threshold);
                }
            }
            if (model.has(EntryPoint.FUSED) && images.isEmpty() == false) {
                List<byte[]> pictures = texts.stream().map(t -> randomFrom(images)).toList();
                List<HashOutput> batch = model.hashFused(pictures, texts);
                for (int i = 0; i < texts.size(); i++) {
                    HashOutput alone = model.hashFused(List.of(pictures.get(i)), List.of(texts.get(i))).get(0);
                    assertSameOutput("fused with [" + texts.get(i) + "]", alone, batch.get(i), tolerance, threshold);
                }
            }
        }
    }

    private static void assertSameOutput(String what, HashOutput expected, HashOutput actual, float tolerance, float threshold) {
        assertArrayEquals(what + ": probs", expected.probs(), actual.probs(), tolerance);
        assertArrayEquals(what + ": embedding", expected.embedding(), actual.embedding(), tolerance);
        boolean nearThreshold = false;
        for (float p : expected.probs()) {
            nearThreshold |= Math.abs(p - threshold) <= tolerance;
        }
        if (nearThreshold == false) {
            assertThat(what + ": code", actual.codeHex(), equalTo(expected.codeHex()));
        }
    }

    public void testSentenceEmbeddingsOnlyWithASentenceEncoder() throws IOException {
        HashModel model = new HashModel(ModelConfig.load(GoldenVectorsTests.modelDir()), 1, 1 << 20, 1 << 20);
        try {
            if (model.config().textEncoder() == TextEncoder.MINILM) {
                assertNull(model.tokenizer());
                float[] embedding = model.sentenceEmbeddings(List.of("grinning face"))[0];
                assertThat(embedding.length, equalTo(MiniLmEncoder.DIMENSIONS));
                double norm = 0;
                for (float v : embedding) {
                    norm += v * v;
                }
                assertEquals(1.0, norm, 1e-5);
                assertThat(model.sentenceEmbeddings(List.of()).length, equalTo(0));
                assertThat(model.hashTexts(List.of()), equalTo(List.of()));
                IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> model.sentenceEmbeddings(Arrays.asList("a", null)));
                assertThat(e.getMessage(), containsString("text [1] is null: expected a string"));
                model.close();
                IllegalStateException closed = expectThrows(IllegalStateException.class, () -> model.sentenceEmbeddings(List.of("cat")));
                assertThat(closed.getMessage(), containsString("is closed"));
            } else {
                assertNull(model.sentenceEncoder());
                IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> model.sentenceEmbeddings(List.of("cat")));
                assertThat(e.getMessage(), containsString("has no sentence encoder: its text encoder is [lstm]"));
            }
        } finally {
            model.close();
        }
    }

    public void testBitPackingIsMostSignificantFirst() {
        float[] probs = new float[16];
        probs[0] = 0.9f;
        probs[9] = 0.5f; // equal to the threshold: 1
        probs[15] = 0.49999997f;
        assertArrayEquals(new byte[] { (byte) 0x80, 0x40 }, HashOutput.pack(probs, 0.5f));
        assertThat(new HashOutput(HashOutput.pack(probs, 0.5f), probs, new float[0]).codeHex(), equalTo("8040"));
    }

    private static byte[] validImage(HashModel model) throws IOException {
        int size = model.imagePreprocessor().size();
        return ImagePreprocessorTests.encode(new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB), "png");
    }
}
