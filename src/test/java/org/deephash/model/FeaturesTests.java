package org.deephash.model;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.elasticsearch.test.ESTestCase;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;

/** The feature command on the chained fixture's encoder and on the bundled MiniLM encoder. */
public class FeaturesTests extends ESTestCase {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private Path dir;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    @Override
    public void setUp() throws Exception {
        super.setUp();
        dir = createTempDir();
    }

    /** The fixture's encoder blocks as a spec in its own directory, the encoder named by its absolute path. */
    private ObjectNode imageSpec() throws IOException {
        ObjectNode model = (ObjectNode) JSON.readTree(ImageEncoderTests.fixture().resolve("model.json").toFile());
        ObjectNode spec = JSON.createObjectNode();
        spec.set("image", model.get("image"));
        spec.set("image_encoder", model.get("image_encoder").deepCopy());
        ((ObjectNode) spec.get("image_encoder")).put("file", ImageEncoderTests.fixture().resolve("image-encoder.onnx").toString());
        return spec;
    }

    private Path write(ObjectNode spec) throws IOException {
        Path file = dir.resolve("spec.json");
        Files.writeString(file, JSON.writeValueAsString(spec), StandardCharsets.UTF_8);
        return file;
    }

    private Path lines(List<String> values) throws IOException {
        Path file = dir.resolve("in.jsonl");
        List<String> lines = new ArrayList<>();
        for (String v : values) {
            lines.add(JSON.writeValueAsString(v));
        }
        Files.write(file, lines, StandardCharsets.UTF_8);
        return file;
    }

    private int run(Path spec, String mode, Path in, Path out) {
        stdout.reset();
        stderr.reset();
        return Features.run(
            new String[] { spec.toString(), mode, in.toString(), out.toString() },
            new PrintStream(stdout, true, StandardCharsets.UTF_8),
            new PrintStream(stderr, true, StandardCharsets.UTF_8)
        );
    }

    private String err() {
        return stderr.toString(StandardCharsets.UTF_8);
    }

    private static float[][] rows(Path file, int dimensions) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        assertThat("file length", bytes.length % (dimensions * Float.BYTES), equalTo(0));
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[][] rows = new float[bytes.length / (dimensions * Float.BYTES)][dimensions];
        for (float[] row : rows) {
            buffer.asFloatBuffer().get(row);
            buffer.position(buffer.position() + dimensions * Float.BYTES);
        }
        return rows;
    }

    private static List<byte[]> pictures() throws IOException {
        return GoldenVectorsTests.readGolden(ImageEncoderTests.fixture().resolve("golden.json"))
            .stream()
            .map(GoldenVectorsTests.Golden::image)
            .filter(Objects::nonNull)
            .toList();
    }

    /**
     * More pictures than one batch, by absolute and relative paths, with a corrupt and a missing one: the
     * rows are HashModel's image features, the two bad ones NaN with a warning each, and the run goes on.
     */
    public void testImageRowsAreTheModelsFeatures() throws IOException {
        List<byte[]> pictures = pictures();
        Files.createDirectories(dir.resolve("pics"));
        List<String> paths = new ArrayList<>();
        List<byte[]> expected = new ArrayList<>();
        int corrupt = between(0, 39);
        int missing = randomValueOtherThan(corrupt, () -> between(0, 39));
        for (int i = 0; i < 40; i++) {
            String name = "pics/" + i + ".png";
            byte[] bytes = randomFrom(pictures);
            if (i == corrupt) {
                bytes = java.util.Arrays.copyOf(bytes, bytes.length / 2);
            }
            if (i != missing) {
                Files.write(dir.resolve(name), bytes);
            }
            paths.add(randomBoolean() ? name : dir.resolve(name).toString());
            expected.add(i == corrupt || i == missing ? null : bytes);
        }
        Path out = dir.resolve("features.f32");
        assertThat(err(), run(write(imageSpec()), "image", lines(paths), out), equalTo(0));
        float[][] rows = rows(out, 16);
        assertThat(rows.length, equalTo(40));
        try (HashModel model = HashModel.load(ImageEncoderTests.fixture())) {
            for (int i = 0; i < 40; i++) {
                if (expected.get(i) == null) {
                    for (float v : rows[i]) {
                        assertTrue("row " + i + " must be NaN", Float.isNaN(v));
                    }
                } else {
                    assertArrayEquals("row " + i, model.imageFeatures(List.of(expected.get(i)))[0], rows[i], 1e-6f);
                }
            }
        }
        String[] lines = err().split("\n");
        assertThat(
            err(),
            containsString(
                "features: line " + (corrupt + 1) + ": cannot use the picture [" + paths.get(corrupt) + "]: the image looks like png but could not be decoded"
            )
        );
        assertThat(err(), containsString("features: line " + (missing + 1) + ": cannot use the picture [" + paths.get(missing) + "]: there is no such file: expected [" + dir.resolve("pics/" + missing + ".png") + "]"));
        assertThat(err(), containsString("; its row is NaN"));
        assertThat(lines[lines.length - 1], equalTo("features: wrote 40 rows of 16 floats to " + out + " (2 failed)"));
        assertThat(stdout.toString(StandardCharsets.UTF_8), equalTo("{\"rows\":40,\"dimensions\":16,\"failed\":2}\n"));
    }

    /** Without an image encoder the rows are the preprocessed pixels, exactly; a model.json is a spec too. */
    public void testPixelRowsWithoutAnEncoder() throws IOException {
        List<byte[]> pictures = pictures();
        ObjectNode spec = imageSpec();
        spec.remove("image_encoder");
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < pictures.size(); i++) {
            Files.write(dir.resolve(i + ".png"), pictures.get(i));
            paths.add(i + ".png");
        }
        Path out = dir.resolve("pixels.f32");
        assertThat(err(), run(write(spec), "image", lines(paths), out), equalTo(0));
        ModelConfig config = ModelConfig.load(ImageEncoderTests.fixture());
        ImagePreprocessor preprocessor = new ImagePreprocessor(config.image(), ImagePreprocessor.DEFAULT_MAX_BYTES, ImagePreprocessor.DEFAULT_MAX_PIXELS);
        float[][] rows = rows(out, 3 * 32 * 32);
        for (int i = 0; i < pictures.size(); i++) {
            assertArrayEquals(preprocessor.preprocess(pictures.get(i)), rows[i], 0f);
        }
        assertThat(stdout.toString(StandardCharsets.UTF_8), equalTo("{\"rows\":" + pictures.size() + ",\"dimensions\":3072,\"failed\":0}\n"));

        // The fixture's own model.json: its encoder relative to it, its checksums checked.
        Path features = dir.resolve("features.f32");
        assertThat(err(), run(ImageEncoderTests.fixture().resolve("model.json"), "image", lines(paths), features), equalTo(0));
        assertThat(rows(features, 16).length, equalTo(pictures.size()));
    }

    /** Text rows are the bundled MiniLM encoder's embeddings, to the bit, whatever the batch. */
    public void testTextRowsAreMiniLmEmbeddings() throws Exception {
        ObjectNode spec = JSON.createObjectNode();
        ObjectNode encoder = spec.putObject("text_encoder");
        encoder.put("type", "minilm");
        encoder.put("artifact", MiniLmEncoder.ARTIFACT);
        encoder.put("model_resource", MiniLmEncoder.MODEL_RESOURCE);
        encoder.put("model_sha256", MiniLmEncoder.resourceSha256(MiniLmEncoder.MODEL_RESOURCE));
        encoder.put("dimensions", 384);
        ObjectNode tokenizer = spec.putObject("tokenizer");
        tokenizer.put("type", "wordpiece");
        tokenizer.put("resource", MiniLmEncoder.TOKENIZER_RESOURCE);
        tokenizer.put("max_tokens", 128);
        List<String> texts = new ArrayList<>(List.of("grinning face", "", "a cat, face, and THE moon!!"));
        for (int i = between(0, 70); i > 0; i--) {
            texts.add(randomRealisticUnicodeOfCodepointLengthBetween(0, 40));
        }
        Path out = dir.resolve("texts.f32");
        assertThat(err(), run(write(spec), "text", lines(texts), out), equalTo(0));
        float[][] rows = rows(out, 384);
        assertThat(rows.length, equalTo(texts.size()));
        try (SentenceEncoder minilm = MiniLmEncoder.fromClassPath(1)) {
            for (int i = 0; i < texts.size(); i++) {
                assertArrayEquals("[" + texts.get(i) + "]", minilm.embed(List.of(texts.get(i)))[0], rows[i], 0f);
            }
        }
        assertThat(err(), endsWith("features: wrote " + texts.size() + " rows of 384 floats to " + out + " (0 failed)\n"));
    }

    public void testBadCommandLineSpecOrInput() throws IOException {
        Path out = dir.resolve("out.f32");
        Path in = lines(List.of("a.png"));
        assertThat(run(write(imageSpec()), "audio", in, out), equalTo(2));
        assertThat(err(), containsString("usage: Features <spec.json> image|text <in.jsonl> <out.f32>"));

        // The spec is read by model.json's parser: the same fields, the same messages.
        ObjectNode noImage = imageSpec();
        noImage.remove("image");
        Path spec = write(noImage);
        assertThat(run(spec, "image", in, out), equalTo(2));
        assertThat(err(), equalTo("features: invalid encoder spec [" + spec + "]: required field [image] is missing: expected an object\n"));

        ObjectNode badDims = imageSpec();
        ((ObjectNode) badDims.get("image_encoder")).put("dimensions", 0);
        assertThat(run(write(badDims), "image", in, out), equalTo(2));
        assertThat(err(), containsString("[image_encoder.dimensions] must be from 1 to 65536 but was [0]"));

        ObjectNode wrongDims = imageSpec();
        ((ObjectNode) wrongDims.get("image_encoder")).put("dimensions", 17);
        assertThat(run(write(wrongDims), "image", in, out), equalTo(2));
        assertThat(err(), containsString("has the output [features] of type FLOAT and shape [N, 16, 8, 8]: expected FLOAT [N, 17]"));

        // Relative to the spec's directory; checksums checked when given.
        Files.copy(ImageEncoderTests.fixture().resolve("image-encoder.onnx"), dir.resolve("enc.onnx"));
        ObjectNode relative = imageSpec();
        ((ObjectNode) relative.get("image_encoder")).put("file", "enc.onnx");
        relative.putObject("sha256").put("enc.onnx", "ab".repeat(32));
        spec = write(relative);
        assertThat(run(spec, "image", in, out), equalTo(2));
        assertThat(err(), containsString("invalid encoder spec [" + spec + "]: SHA-256 mismatch for [enc.onnx]: expected [" + "ab".repeat(32) + "]"));
        ((ObjectNode) relative.get("sha256")).put("enc.onnx", Checksums.sha256(dir.resolve("enc.onnx")));
        ((ObjectNode) relative.get("image_encoder")).put("file", "missing.onnx");
        assertThat(run(write(relative), "image", in, out), equalTo(2));
        assertThat(err(), containsString("[image_encoder.file] names [missing.onnx] but there is no such file: expected [" + dir.resolve("missing.onnx") + "]"));

        assertThat(run(write(imageSpec()), "text", in, out), equalTo(2));
        assertThat(err(), containsString("has no frozen text encoder: text mode needs [text_encoder.type] [minilm] or [onnx] and its [tokenizer], as in model.json"));

        Files.writeString(in, "\"a.png\"\n\"b.png\"\n3\n", StandardCharsets.UTF_8);
        assertThat(run(write(imageSpec()), "image", in, out), equalTo(2));
        assertThat(err(), equalTo("features: [" + in.toAbsolutePath().normalize() + "] line 3 is number: expected a JSON string\n"));
    }
}
