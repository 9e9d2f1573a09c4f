package org.deephash.model;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes the features of a collection's pictures or captions, as the frozen encoders a node runs compute
 * them, for the training side to train a head on (Debian has no Python ONNX Runtime, and the head must
 * be trained on the very numbers it will get at ingest):
 *
 * <pre>
 *   java -cp target/classes:$(cat target/classpath.txt) org.deephash.model.Features &lt;spec.json&gt; image|text &lt;in.jsonl&gt; &lt;out.f32&gt;
 * </pre>
 *
 * {@code spec.json} holds model.json's encoder blocks ({@link EncoderSpec}). Each line of {@code in.jsonl} is
 * a JSON string: in {@code image} mode the path of a picture (absolute, or relative to in.jsonl's directory),
 * in {@code text} mode a caption. {@code out.f32} gets one row of D float32 (little-endian) per line, in order:
 * <ul>
 *   <li>image: the picture decoded and preprocessed by {@link ImagePreprocessor} with the default limits, as at
 *       ingest, then the spec's {@link ImageEncoder}'s features (D = {@code image_encoder.dimensions}); without an
 *       {@code image_encoder}, the preprocessed pixels themselves (D = 3 x size x size, CHW), for training a
 *       network on them. A picture that cannot be read or decoded gets a row of NaN and one warning line on
 *       stderr (line number, path, reason); the run goes on.
 *   <li>text: the spec's sentence encoder's embedding (MiniLM: D = 384; an {@code onnx} text encoder:
 *       D = {@code text_encoder.dimensions}).
 * </ul>
 * Progress goes to stderr about every 5 s, and the last stderr line is
 * {@code features: wrote N rows of D floats to OUT (M failed)}; stdout gets one JSON line,
 * {@code {"rows":N,"dimensions":D,"failed":M}}. Exit status 0 when the rows are written (failed pictures
 * included), 2 for a bad command line, spec or input file (one line saying what is wrong), 1 otherwise.
 *
 * <p>The encoders run in batches ({@value #IMAGE_BATCH} pictures, {@value #TEXT_BATCH} captions a call),
 * ONNX Runtime with as many intra-op threads as there are processors; pictures are decoded in parallel.
 */
public final class Features {
    static final int IMAGE_BATCH = 32;
    static final int TEXT_BATCH = 64;
    private static final long PROGRESS_NANOS = 5_000_000_000L;
    private static final String USAGE = "usage: Features <spec.json> image|text <in.jsonl> <out.f32>";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final PrintStream err;
    private final long started = System.nanoTime();
    private long lastProgress = started;

    private Features(PrintStream err) {
        this.err = err;
    }

    public static void main(String[] args) {
        int status = run(args, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** The command: writes the rows, reports on {@code out} and {@code err}, and returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length != 4 || (args[1].equals("image") || args[1].equals("text")) == false) {
            err.println(USAGE);
            err.println("  spec.json: model.json's image, image_encoder, text_encoder and tokenizer blocks (files relative to it)");
            err.println("  in.jsonl:  one JSON string a line: a picture's path (image) or a caption (text)");
            return 2;
        }
        return finish(() -> {
            EncoderSpec spec = EncoderSpec.load(Path.of(args[0]));
            Path in = Path.of(args[2]).toAbsolutePath().normalize();
            Path target = Path.of(args[3]);
            List<String> values = readLines(in);
            return args[1].equals("image")
                ? new Features(err).images(spec, values, in.getParent(), target)
                : new Features(err).texts(options -> sentenceEncoder(spec, options), values, target);
        }, out, err);
    }

    /** Embeds the captions of {@code in} with the MiniLM encoder {@code spec} describes: {@link MiniLmEncoder}'s command. */
    static int runText(MiniLmSpec spec, Path in, Path target, PrintStream out, PrintStream err) {
        return finish(
            () -> new Features(err).texts(
                options -> MiniLmEncoder.open(spec, OrtEnvironment.getEnvironment(), options, ""),
                readLines(in.toAbsolutePath().normalize()),
                target
            ),
            out,
            err
        );
    }

    /** Writes the rows of one run of the command. */
    private interface Work {
        Result write() throws IOException, OrtException;
    }

    /** Runs {@code work} and reports: 0 when the rows are written, 2 for bad input (one line saying what), 1 otherwise. */
    private static int finish(Work work, PrintStream out, PrintStream err) {
        try {
            work.write().report(out, err);
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("features: " + e.getMessage());
            return 2;
        } catch (IOException | OrtException | RuntimeException e) {
            err.println("features: failed: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    private record Result(Path target, int rows, int dimensions, int failed) {
        void report(PrintStream out, PrintStream err) {
            err.printf(Locale.ROOT, "features: wrote %d rows of %d floats to %s (%d failed)%n", rows, dimensions, target, failed);
            out.printf(Locale.ROOT, "{\"rows\":%d,\"dimensions\":%d,\"failed\":%d}%n", rows, dimensions, failed);
        }
    }

    /** The spec's frozen sentence encoder: the bundled MiniLM, or a graph and tokenizer.json of the user's. */
    private static SentenceEncoder sentenceEncoder(EncoderSpec spec, OrtSession.SessionOptions options) throws IOException, OrtException {
        if (spec.miniLm() != null) {
            return MiniLmEncoder.open(spec.miniLm(), OrtEnvironment.getEnvironment(), options, "");
        }
        OnnxTextEncoderSpec onnx = spec.onnxTextEncoder();
        if (onnx == null) {
            throw new IllegalArgumentException(
                "the encoder spec [" + spec.file() + "] has no frozen text encoder"
                    + (spec.textEncoder() == null ? "" : " ([text_encoder.type] is [" + spec.textEncoder().jsonName() + "], trained with its head)")
                    + ": text mode needs [text_encoder.type] [minilm] or [onnx] and its [tokenizer], as in model.json"
            );
        }
        Path file = spec.resolve(onnx.file());
        WordPieceTokenizer tokenizer;
        try (InputStream in = Files.newInputStream(spec.resolve(onnx.tokenizerFile()))) {
            tokenizer = WordPieceTokenizer.load(in);
        }
        return new SentenceEncoder(
            OrtEnvironment.getEnvironment(),
            Files.readAllBytes(file),
            "[" + file + "]",
            tokenizer,
            onnx.maxTokens(),
            onnx.dimensions(),
            onnx.pooling(),
            onnx.normalize(),
            onnx.embedAlone(),
            options
        );
    }

    /** Opens a sentence encoder with the run's session options. */
    private interface SentenceEncoderFactory {
        SentenceEncoder open(OrtSession.SessionOptions options) throws IOException, OrtException;
    }

    /** The JSON strings of a JSON-lines file; anything else is an error that names the line. */
    private static List<String> readLines(Path file) throws IOException {
        List<String> values = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int number = 0;
            for (String line; (line = reader.readLine()) != null;) {
                number++;
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JacksonException e) {
                    throw new IllegalArgumentException("[" + file + "] line " + number + " is not JSON (" + e.getOriginalMessage() + "): expected a JSON string");
                }
                if (node == null || node.isTextual() == false) {
                    throw new IllegalArgumentException(
                        "[" + file + "] line " + number + " is " + (node == null ? "empty" : node.getNodeType().toString().toLowerCase(Locale.ROOT))
                            + ": expected a JSON string"
                    );
                }
                values.add(node.asText());
            }
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("[" + file + "] is not valid UTF-8: expected JSON lines in UTF-8");
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IllegalArgumentException("the input [" + file + "] does not exist: expected a JSON-lines file");
        }
        return values;
    }

    private static OrtSession.SessionOptions options() throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
        options.setInterOpNumThreads(1);
        return options;
    }

    private Result images(EncoderSpec spec, List<String> paths, Path base, Path target) throws IOException, OrtException {
        if (spec.image() == null) {
            throw new IllegalArgumentException(
                "the encoder spec [" + spec.file() + "] has no [image] block: image mode needs the picture's size and normalisation (and an "
                    + "[image_encoder] unless the rows are to be the pixels)"
            );
        }
        ImagePreprocessor preprocessor = new ImagePreprocessor(spec.image(), ImagePreprocessor.DEFAULT_MAX_BYTES, ImagePreprocessor.DEFAULT_MAX_PIXELS);
        int length = preprocessor.tensorLength();
        ImageEncoder encoder = null;
        // Decoding is most of the cost for a small encoder: one thread per processor, ended with the run.
        ExecutorService decoders = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
        try (OrtSession.SessionOptions options = options()) {
            if (spec.imageEncoder() != null) {
                Path file = spec.resolve(spec.imageEncoder().file());
                encoder = new ImageEncoder(OrtEnvironment.getEnvironment(), Files.readAllBytes(file), "[" + file + "]", spec.imageEncoder(), preprocessor.size(), options);
            }
            int dimensions = encoder == null ? length : encoder.dimensions();
            int failed = 0;
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(target), 1 << 20)) {
                ByteBuffer row = ByteBuffer.allocate(dimensions * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                float[] nan = new float[dimensions];
                Arrays.fill(nan, Float.NaN);
                for (int start = 0; start < paths.size(); start += IMAGE_BATCH) {
                    int n = Math.min(IMAGE_BATCH, paths.size() - start);
                    float[] pixels = new float[n * length];
                    String[] problems = new String[n];
                    List<Future<?>> decoded = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        int at = i;
                        String path = paths.get(start + i);
                        decoded.add(decoders.submit(() -> problems[at] = preprocess(preprocessor, base, path, pixels, at * length)));
                    }
                    for (Future<?> f : decoded) {
                        join(f);
                    }
                    float[] rows = encoder == null ? pixels : encoder.encode(pixels, n);
                    for (int i = 0; i < n; i++) {
                        row.clear();
                        if (problems[i] != null) {
                            failed++;
                            err.println("features: line " + (start + i + 1) + ": cannot use the picture [" + paths.get(start + i) + "]: " + problems[i] + "; its row is NaN");
                            row.asFloatBuffer().put(nan);
                        } else {
                            row.asFloatBuffer().put(rows, i * dimensions, dimensions);
                        }
                        out.write(row.array());
                    }
                    progress(start + n, paths.size(), "pictures");
                }
            }
            return new Result(target, paths.size(), dimensions, failed);
        } finally {
            decoders.shutdownNow();
            if (encoder != null) {
                encoder.close();
            }
        }
    }

    private static void join(Future<?> future) {
        try {
            future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while decoding pictures", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("decoding a picture failed: " + e.getCause(), e.getCause());
        }
    }

    /** Reads and preprocesses one picture into {@code dest}; returns why it could not, or null. */
    private static String preprocess(ImagePreprocessor preprocessor, Path base, String path, float[] dest, int offset) {
        byte[] bytes;
        Path file;
        try {
            file = base.resolve(path);
        } catch (RuntimeException e) {
            return "it is not a valid path";
        }
        try {
            long size = Files.size(file);
            if (size > preprocessor.maxBytes()) {
                return "it is [" + size + "] bytes, over the limit of [" + preprocessor.maxBytes() + "] bytes";
            }
            bytes = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            return "there is no such file: expected [" + file + "]";
        } catch (IOException | RuntimeException e) {
            return "cannot read it (" + e + ")";
        }
        try {
            preprocessor.preprocess(bytes, dest, offset);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private Result texts(SentenceEncoderFactory factory, List<String> texts, Path target) throws IOException, OrtException {
        int dimensions;
        try (
            OrtSession.SessionOptions options = options();
            SentenceEncoder encoder = factory.open(options);
            OutputStream out = new BufferedOutputStream(Files.newOutputStream(target), 1 << 20)
        ) {
            dimensions = encoder.dimensions();
            ByteBuffer row = ByteBuffer.allocate(dimensions * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (int start = 0; start < texts.size(); start += TEXT_BATCH) {
                List<String> batch = texts.subList(start, Math.min(texts.size(), start + TEXT_BATCH));
                for (float[] embedding : encoder.embed(batch)) {
                    row.clear();
                    row.asFloatBuffer().put(embedding);
                    out.write(row.array());
                }
                progress(start + batch.size(), texts.size(), "texts");
            }
        }
        return new Result(target, texts.size(), dimensions, 0);
    }

    private void progress(int done, int total, String what) {
        long now = System.nanoTime();
        if (now - lastProgress < PROGRESS_NANOS || done == total) {
            return;
        }
        lastProgress = now;
        double elapsed = (now - started) / 1e9;
        double left = elapsed / done * (total - done);
        err.printf(Locale.ROOT, "features: %d/%d %s (%.0f s, about %.0f s left)%n", done, total, what, elapsed, left);
    }
}
