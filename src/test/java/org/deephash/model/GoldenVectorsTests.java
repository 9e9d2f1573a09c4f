package org.deephash.model;

import com.carrotsearch.randomizedtesting.annotations.Name;
import com.carrotsearch.randomizedtesting.annotations.ParametersFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.test.ESTestCase;
import org.junit.AfterClass;
import org.junit.Before;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;

/**
 * The shipped model, run through this package, must give exactly what the training side recorded in
 * golden.json: the same token ids, the same codes (not one bit flipped) and the same probabilities
 * and embeddings to 1e-5. For a model with a sentence encoder (the bundled MiniLM, or an {@code onnx}
 * text encoder of its own) the token ids are the WordPiece ids of {@code model/wordpiece.py}, and each
 * text's sentence embedding (from the Java encoder, run by the training side) must come out the same to
 * 1e-5 too; for the LSTM one they are the word ids of the model's vocabulary. A model with an {@code image_encoder} is checked through the whole chain, picture
 * bytes to ImagePreprocessor to the encoder to the head; where an item records {@code image_features}
 * (the encoder's row as the training side computed it), the encoder's output must match it to 1e-4
 * (a convolution's sums run in another order in ONNX Runtime than in PyTorch; the codes must still
 * match to the bit). Every test runs once for each bundled model's export, {@code model/export}
 * ({@code default}), {@code model/export-accurate} ({@code accurate}) and {@code model/export-fast}
 * ({@code fast}, with its own int8 text encoder) (Maven runs tests from the project
 * root); {@code -Dtests.model.dir=...} checks others instead, of any kind, comma-separated (ImageEncoderTests
 * checks the chained fixture this way too). The largest differences are logged
 * (target/surefire-reports/org.deephash.model.GoldenVectorsTests-output.txt).
 */
public class GoldenVectorsTests extends ESTestCase {
    static final double TOLERANCE = 1e-5;
    static final double FEATURES_TOLERANCE = 1e-4;
    /** The exports the plugin bundles (pom.xml copies each into target/models/): {@code default}, {@code accurate}, {@code fast}. */
    static final List<String> BUNDLED_EXPORTS = List.of("model/export", "model/export-accurate", "model/export-fast");

    /** Each model directory's model and golden vectors, loaded by its first test and closed after the last. */
    private static final Map<Path, Loaded> LOADED = new HashMap<>();

    private record Loaded(HashModel model, List<Golden> golden) {}

    private final Path dir;
    private HashModel model;
    private List<Golden> golden;

    record Golden(
        String name,
        EntryPoint entry,
        byte[] image,
        String text,
        long[] tokens,
        float[] sentenceEmbedding,
        float[] imageFeatures,
        String code,
        float[] probs,
        float[] embedding
    ) {}

    public GoldenVectorsTests(@Name("model") String dir) {
        this.dir = Path.of(dir).toAbsolutePath();
    }

    /** Every bundled model's export, or the comma-separated directories {@code tests.model.dir} names. */
    @ParametersFactory
    public static Iterable<Object[]> parameters() {
        String dirs = System.getProperty("tests.model.dir", String.join(",", BUNDLED_EXPORTS));
        return Arrays.stream(dirs.split(",")).map(String::trim).filter(d -> d.isEmpty() == false).map(d -> new Object[] { d }).toList();
    }

    /** The default model's export (the first of {@code tests.model.dir} where it is set), for the tests of one model. */
    static Path modelDir() {
        return Path.of((String) parameters().iterator().next()[0]).toAbsolutePath();
    }

    @Before
    public void loadModel() throws IOException {
        Loaded loaded = LOADED.get(dir);
        if (loaded == null) {
            Path goldenFile = dir.resolve("golden.json");
            assertTrue("the shipped model is missing: expected " + goldenFile + " (written by model/export.py)", Files.isRegularFile(goldenFile));
            loaded = new Loaded(HashModel.load(dir), readGolden(goldenFile));
            LOADED.put(dir, loaded);
        }
        model = loaded.model();
        golden = loaded.golden();
    }

    @AfterClass
    public static void closeModels() {
        LOADED.values().forEach(l -> l.model().close());
        LOADED.clear();
    }

    static List<Golden> readGolden(Path file) throws IOException {
        JsonNode root = JsonMapper.builder().build().readTree(file.toFile());
        List<Golden> result = new ArrayList<>();
        for (JsonNode e : root) {
            String name = e.get("name").asText();
            EntryPoint entry = EntryPoint.fromJsonName(e.get("entry").asText());
            assertNotNull("unknown entry in golden [" + name + "]", entry);
            byte[] image = e.has("image_png_base64") ? Base64.getDecoder().decode(e.get("image_png_base64").asText()) : null;
            String text = e.has("text") ? e.get("text").asText() : null;
            long[] tokens = null;
            if (e.has("tokens")) {
                tokens = new long[e.get("tokens").size()];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = e.get("tokens").get(i).asLong();
                }
            }
            float[] sentenceEmbedding = e.has("sentence_embedding") ? floats(e.get("sentence_embedding")) : null;
            float[] imageFeatures = e.has("image_features") ? floats(e.get("image_features")) : null;
            result.add(
                new Golden(
                    name,
                    entry,
                    image,
                    text,
                    tokens,
                    sentenceEmbedding,
                    imageFeatures,
                    e.get("code").asText(),
                    floats(e.get("probs")),
                    floats(e.get("embedding"))
                )
            );
        }
        return result;
    }

    private static float[] floats(JsonNode array) {
        float[] values = new float[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) array.get(i).asDouble();
        }
        return values;
    }

    public void testGoldenCoversEveryEntryPoint() {
        assertThat(golden.size(), greaterThan(0));
        for (EntryPoint entry : model.config().entryPoints().keySet()) {
            assertTrue("golden.json has no " + entry.jsonName() + " entry", golden.stream().anyMatch(g -> g.entry() == entry));
        }
        for (Golden g : golden) {
            assertTrue(g.name() + ": the model has no " + g.entry().jsonName() + " entry point", model.has(g.entry()));
            assertThat(g.name() + ": code width", g.code().length(), equalTo(model.bits() / 4));
            assertThat(g.name() + ": probs", g.probs().length, equalTo(model.bits()));
            assertThat(g.name() + ": embedding", g.embedding().length, equalTo(model.embeddingDim()));
            assertEquals(g.name() + ": image", g.entry().takesImage(), g.image() != null);
            assertEquals(g.name() + ": text", g.entry().takesText(), g.text() != null && g.tokens() != null);
            if (hasSentenceEncoder() && g.entry().takesText()) {
                assertNotNull(g.name() + ": sentence_embedding", g.sentenceEmbedding());
                assertThat(g.name() + ": sentence_embedding", g.sentenceEmbedding().length, equalTo(model.sentenceEncoder().dimensions()));
            }
            if (g.imageFeatures() != null) {
                assertNotNull(g.name() + ": image_features, but the model has no image_encoder", model.config().imageEncoder());
                assertThat(g.name() + ": image_features", g.imageFeatures().length, equalTo(model.config().imageEncoder().dimensions()));
            }
        }
    }

    /** The image encoder gives each picture the recorded features (to 1e-4), alone and in one batch of all. */
    public void testImageFeatures() {
        assumeTrue("the model has no image encoder", model.config().imageEncoder() != null);
        List<Golden> withFeatures = golden.stream().filter(g -> g.imageFeatures() != null).toList();
        assumeTrue("golden.json records no image_features", withFeatures.isEmpty() == false);
        float[][] batch = model.imageFeatures(withFeatures.stream().map(Golden::image).toList());
        double maxError = 0;
        for (int i = 0; i < withFeatures.size(); i++) {
            Golden g = withFeatures.get(i);
            float[] alone = model.imageFeatures(List.of(g.image()))[0];
            assertClose(g.name() + ": image_features", g.imageFeatures(), alone, FEATURES_TOLERANCE);
            assertClose(g.name() + ": image_features in a batch", g.imageFeatures(), batch[i], FEATURES_TOLERANCE);
            maxError = Math.max(maxError, Math.max(maxError(g.imageFeatures(), alone), maxError(g.imageFeatures(), batch[i])));
        }
        logger.info("{} golden image features match; largest difference {}", withFeatures.size(), maxError);
    }

    private boolean hasSentenceEncoder() {
        return model.sentenceEncoder() != null;
    }

    /** Word ids from the model's vocabulary, or WordPiece ids with [CLS] and [SEP], exactly. */
    public void testTokenizerGivesTheRecordedTokens() {
        int texts = 0;
        for (Golden g : golden) {
            if (g.text() != null) {
                long[] actual = hasSentenceEncoder()
                    ? Arrays.stream(model.sentenceEncoder().tokenIds(g.text())).asLongStream().toArray()
                    : model.tokenizer().tokenize(g.text());
                assertArrayEquals(g.name() + ": tokens of [" + g.text() + "]", g.tokens(), actual);
                texts++;
            }
        }
        logger.info("{} golden texts get the recorded {} ids", texts, hasSentenceEncoder() ? "WordPiece" : "word");
    }

    /** The sentence encoder gives each text the recorded sentence embedding, alone and in one batch of all. */
    public void testSentenceEmbeddings() {
        assumeTrue("the model has no sentence encoder", hasSentenceEncoder());
        List<Golden> withText = golden.stream().filter(g -> g.sentenceEmbedding() != null).toList();
        assertThat(withText.size(), greaterThan(0));
        float[][] batch = model.sentenceEmbeddings(withText.stream().map(Golden::text).toList());
        double maxError = 0;
        for (int i = 0; i < withText.size(); i++) {
            Golden g = withText.get(i);
            float[] alone = model.sentenceEmbeddings(List.of(g.text()))[0];
            assertClose(g.name() + ": sentence_embedding of [" + g.text() + "]", g.sentenceEmbedding(), alone);
            assertArrayEquals(g.name() + ": the same in a batch", alone, batch[i], 0f);
            maxError = Math.max(maxError, maxError(g.sentenceEmbedding(), alone));
        }
        logger.info("{} golden sentence embeddings match; largest difference {}", withText.size(), maxError);
    }

    public void testEachInputAlone() {
        double maxProbError = 0;
        double maxEmbeddingError = 0;
        for (Golden g : golden) {
            HashOutput out = hash(model, List.of(g)).get(0);
            check(g, out);
            maxProbError = Math.max(maxProbError, maxError(g.probs(), out.probs()));
            maxEmbeddingError = Math.max(maxEmbeddingError, maxError(g.embedding(), out.embedding()));
        }
        logger.info(
            "{} golden vectors of model [{}] ({} text encoder) match; largest difference: probs {}, embedding {}",
            golden.size(),
            model.config().version(),
            model.config().textEncoder().jsonName(),
            maxProbError,
            maxEmbeddingError
        );
    }

    private static double maxError(float[] expected, float[] actual) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        return max;
    }

    /** A batch of every input of an entry point, in random order: results do not depend on the batch. */
    public void testBatches() {
        for (EntryPoint entry : model.config().entryPoints().keySet()) {
            List<Golden> batch = new ArrayList<>(golden.stream().filter(g -> g.entry() == entry).toList());
            if (batch.isEmpty()) {
                continue; // testGoldenCoversEveryEntryPoint reports it
            }
            Collections.shuffle(batch, random());
            List<HashOutput> outputs = hash(model, batch);
            assertThat(outputs.size(), equalTo(batch.size()));
            for (int i = 0; i < batch.size(); i++) {
                check(batch.get(i), outputs.get(i));
            }
        }
    }

    public void testConcurrentCallersGetTheSameAnswers() throws Exception {
        int threads = between(2, 4);
        int rounds = between(2, 5);
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = random().nextLong();
            Thread worker = new Thread(() -> {
                try {
                    start.await();
                    List<Golden> mine = new ArrayList<>(golden);
                    for (int r = 0; r < rounds; r++) {
                        Collections.shuffle(mine, new Random(seed + r));
                        for (Golden g : mine) {
                            check(g, hash(model, List.of(g)).get(0));
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "golden-worker-" + t);
            workers.add(worker);
            worker.start();
        }
        start.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("a concurrent caller failed", failure.get());
        }
    }

    /** Hashes a batch of golden items of one entry point with {@code model}. */
    static List<HashOutput> hash(HashModel model, List<Golden> batch) {
        EntryPoint entry = batch.get(0).entry();
        List<byte[]> images = batch.stream().map(Golden::image).toList();
        List<String> texts = batch.stream().map(Golden::text).toList();
        return switch (entry) {
            case IMAGE -> model.hashImages(images);
            case TEXT -> model.hashTexts(texts);
            case FUSED -> model.hashFused(images, texts);
        };
    }

    /** The same code to the bit, probs and embedding to {@link #TOLERANCE}. */
    static void check(Golden g, HashOutput out) {
        assertThat(g.name() + " (" + g.entry().jsonName() + "): code", out.codeHex(), equalTo(g.code()));
        assertClose(g.name() + ": probs", g.probs(), out.probs());
        assertClose(g.name() + ": embedding", g.embedding(), out.embedding());
    }

    private static void assertClose(String what, float[] expected, float[] actual) {
        assertClose(what, expected, actual, TOLERANCE);
    }

    static void assertClose(String what, float[] expected, float[] actual, double tolerance) {
        assertThat(what + " length", actual.length, equalTo(expected.length));
        for (int i = 0; i < expected.length; i++) {
            if ((Math.abs(expected[i] - actual[i]) <= tolerance) == false) {
                fail(what + "[" + i + "]: expected " + expected[i] + " but got " + actual[i] + " (tolerance " + tolerance + ")");
            }
        }
    }
}
