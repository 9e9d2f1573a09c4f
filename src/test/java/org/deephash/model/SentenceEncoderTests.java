package org.deephash.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.elasticsearch.test.ESTestCase;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;

/**
 * A model's own frozen sentence encoder ({@code text_encoder} of type {@code onnx}), on the fixture that
 * {@code src/test/python/make_encoder_fixture.py} writes to {@code sentence/}: a tiny BERT-style graph
 * whose tokens see the mean of the real tokens (so a padding that is not masked would show), an uncased
 * WordPiece tokenizer.json, [CLS] pooling, L2-normalised. The golden items are PyTorch's numbers.
 */
public class SentenceEncoderTests extends ESTestCase {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    static Path fixture() {
        try {
            return Path.of(Objects.requireNonNull(SentenceEncoderTests.class.getResource("sentence")).toURI());
        } catch (java.net.URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private static List<GoldenVectorsTests.Golden> golden() throws IOException {
        return GoldenVectorsTests.readGolden(fixture().resolve("golden.json"));
    }

    /** A copy of the fixture with model.json edited and every checksum recomputed. */
    private Path copy(Consumer<ObjectNode> edit) throws IOException {
        Path dir = createTempDir();
        try (var list = Files.list(fixture())) {
            for (Path file : list.toList()) {
                Files.copy(file, dir.resolve(file.getFileName().toString()));
            }
        }
        Files.copy(ImageEncoderTests.fixture().resolve("image-encoder.onnx"), dir.resolve("image-encoder.onnx"));
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("model.json").toFile());
        edit.accept(config);
        ObjectNode sha = (ObjectNode) config.get("sha256");
        List<String> names = new ArrayList<>();
        sha.fieldNames().forEachRemaining(names::add);
        for (String name : names) {
            sha.put(name, Checksums.sha256(dir.resolve(name)));
        }
        Files.writeString(dir.resolve("model.json"), JSON.writeValueAsString(config), StandardCharsets.UTF_8);
        return dir;
    }

    private static ObjectNode encoder(ObjectNode root) {
        return (ObjectNode) root.get("text_encoder");
    }

    /** The recorded WordPiece ids, sentence embeddings (1e-5) and codes (to the bit), each text alone and all in one batch. */
    public void testGoldenVectors() throws IOException {
        List<GoldenVectorsTests.Golden> golden = new ArrayList<>(golden());
        Collections.shuffle(golden, random());
        try (HashModel model = HashModel.load(fixture())) {
            SentenceEncoder encoder = model.sentenceEncoder();
            assertThat(encoder.pooling(), equalTo(SentenceEncoder.Pooling.CLS));
            assertTrue(encoder.normalize());
            assertThat(model.config().inputs(ModelConfig.EntryPoint.TEXT), equalTo(List.of("sentence_embedding")));
            float[][] batch = model.sentenceEmbeddings(golden.stream().map(GoldenVectorsTests.Golden::text).toList());
            List<HashOutput> outputs = GoldenVectorsTests.hash(model, golden);
            for (int i = 0; i < golden.size(); i++) {
                GoldenVectorsTests.Golden g = golden.get(i);
                long[] ids = java.util.Arrays.stream(encoder.tokenIds(g.text())).asLongStream().toArray();
                assertArrayEquals(g.name() + ": tokens", g.tokens(), ids);
                GoldenVectorsTests.assertClose(g.name() + ": sentence_embedding", g.sentenceEmbedding(), batch[i], GoldenVectorsTests.TOLERANCE);
                assertArrayEquals(g.name() + ": alone as in a batch", model.sentenceEmbeddings(List.of(g.text()))[0], batch[i], 0f);
                GoldenVectorsTests.check(g, outputs.get(i));
                GoldenVectorsTests.check(g, GoldenVectorsTests.hash(model, List.of(g)).get(0));
            }
        }
    }

    /** Mean and [CLS] pooling, normalised or not, are the graph's hidden states pooled by hand over the real tokens. */
    public void testPoolingIsTheHiddenStatesPooledByHand() throws Exception {
        SentenceEncoder.Pooling pooling = randomFrom(SentenceEncoder.Pooling.values());
        boolean normalize = randomBoolean();
        int maxTokens = between(2, 16);
        byte[] graph = Files.readAllBytes(fixture().resolve("text-encoder.onnx"));
        WordPieceTokenizer tokenizer;
        try (InputStream in = Files.newInputStream(fixture().resolve("tokenizer.json"))) {
            tokenizer = WordPieceTokenizer.load(in);
        }
        List<String> texts = List.of("the red cat", "sunny dog running, the red sun!", "", "a");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            SentenceEncoder encoder = new SentenceEncoder(env, graph, "[text-encoder.onnx]", tokenizer, maxTokens, 8, pooling, normalize, false, options);
            OrtSession session = env.createSession(graph, options)
        ) {
            float[][] embeddings = encoder.embed(texts);
            for (int t = 0; t < texts.size(); t++) {
                int[] ids = tokenizer.encode(texts.get(t), maxTokens);
                long[] input = java.util.Arrays.stream(ids).asLongStream().toArray();
                long[] ones = new long[ids.length];
                java.util.Arrays.fill(ones, 1);
                long[] shape = { 1, ids.length };
                float[] expected = new float[8];
                try (
                    OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(input), shape);
                    OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(ones), shape);
                    OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape);
                    OrtSession.Result result = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))
                ) {
                    float[][] hidden = ((float[][][]) result.get(0).getValue())[0];
                    int rows = pooling == SentenceEncoder.Pooling.CLS ? 1 : ids.length;
                    for (int j = 0; j < rows; j++) {
                        for (int d = 0; d < 8; d++) {
                            expected[d] += hidden[j][d];
                        }
                    }
                    double norm = 0;
                    for (int d = 0; d < 8; d++) {
                        expected[d] /= rows;
                        norm += (double) expected[d] * expected[d];
                    }
                    for (int d = 0; normalize && d < 8; d++) {
                        expected[d] *= (float) (1.0 / Math.sqrt(norm));
                    }
                }
                // Alone in ONNX Runtime against padded in a batch of four: masked, so the same to float rounding.
                assertArrayEquals("[" + texts.get(t) + "] " + pooling + " normalize " + normalize, expected, embeddings[t], 1e-6f);
            }
        }
    }

    /**
     * langchain4j's int8 MiniLM quantizes its activations with one scale per batch: in a batch a caption's
     * embedding moves with the other captions. With {@code embedAlone} every text gets its embedding alone, to
     * the bit, whatever its batch.
     */
    public void testAQuantizedGraphRunsEachTextAlone() throws Exception {
        byte[] graph;
        WordPieceTokenizer tokenizer;
        try (
            InputStream model = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-q.onnx");
            InputStream vocabulary = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-q-tokenizer.json")
        ) {
            assertNotNull("the int8 MiniLM is a test dependency (pom.xml)", model);
            graph = model.readAllBytes();
            tokenizer = WordPieceTokenizer.load(vocabulary);
        }
        List<String> texts = List.of("grinning face with big eyes", "hot beverage", "a red apple on a white table, seen from above", "flag");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (
            OrtSession.SessionOptions options = new OrtSession.SessionOptions();
            SentenceEncoder batched = new SentenceEncoder(env, graph, "[int8]", tokenizer, 128, 384, SentenceEncoder.Pooling.MEAN, true, false, options);
            SentenceEncoder alone = new SentenceEncoder(env, graph, "[int8]", tokenizer, 128, 384, SentenceEncoder.Pooling.MEAN, true, true, options)
        ) {
            assertTrue(alone.embedAlone());
            float[][] inBatch = batched.embed(texts);
            float[][] aloneInBatch = alone.embed(texts);
            double moved = 0;
            for (int i = 0; i < texts.size(); i++) {
                float[] single = batched.embed(List.of(texts.get(i)))[0];
                assertArrayEquals(texts.get(i) + ": alone, whatever its batch", single, aloneInBatch[i], 0f);
                for (int d = 0; d < 384; d++) {
                    moved = Math.max(moved, Math.abs(single[d] - inBatch[i][d]));
                }
            }
            assertThat("the int8 graph's embeddings move with the batch (why it runs alone)", moved, greaterThan(1e-4));
        }
    }

    public void testGraphThatIsNotASentenceEncoderIsRefused() throws IOException {
        Path dims = copy(root -> encoder(root).put("dimensions", 16));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(dims));
        assertThat(
            e.getMessage(),
            equalTo(
                "[text-encoder.onnx] of model [sentence] gives the hidden states [last_hidden_state] as FLOAT [-1, -1, 8]: expected FLOAT "
                    + "[N, length, 16], 16 being [text_encoder.dimensions]"
            )
        );
        Path image = copy(root -> {
            encoder(root).put("file", "image-encoder.onnx");
            ((ObjectNode) root.get("sha256")).put("image-encoder.onnx", "");
        });
        e = expectThrows(IllegalArgumentException.class, () -> HashModel.load(image));
        assertThat(
            e.getMessage(),
            equalTo(
                "[image-encoder.onnx] of model [sentence] takes the inputs [pixels]: expected those of a BERT-style encoder, [input_ids, "
                    + "attention_mask] and optionally [token_type_ids]"
            )
        );
    }

    /** Features' text mode writes the model's own encoder's embeddings when the spec names it. */
    public void testFeaturesTextModeWithTheModelsEncoder() throws Exception {
        Path dir = createTempDir();
        List<String> texts = List.of("The red cat, on the mat!", "", "sunny dog running");
        List<String> lines = new ArrayList<>();
        for (String t : texts) {
            lines.add(JSON.writeValueAsString(t));
        }
        Path in = Files.write(dir.resolve("in.jsonl"), lines, StandardCharsets.UTF_8);
        Path out = dir.resolve("out.f32");
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int status = Features.run(
            new String[] { fixture().resolve("model.json").toString(), "text", in.toString(), out.toString() },
            new PrintStream(stdout, true, StandardCharsets.UTF_8),
            new PrintStream(stderr, true, StandardCharsets.UTF_8)
        );
        assertThat(stderr.toString(StandardCharsets.UTF_8), status, equalTo(0));
        assertThat(stdout.toString(StandardCharsets.UTF_8), equalTo("{\"rows\":3,\"dimensions\":8,\"failed\":0}\n"));
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(bytes.remaining(), equalTo(3 * 8 * Float.BYTES));
        try (HashModel model = HashModel.load(fixture())) {
            float[][] expected = model.sentenceEmbeddings(texts);
            for (int i = 0; i < 3; i++) {
                float[] row = new float[8];
                bytes.asFloatBuffer().get(row);
                bytes.position(bytes.position() + 8 * Float.BYTES);
                assertArrayEquals(texts.get(i), expected[i], row, 0f);
            }
        }
    }
}
