package org.deephash.bench;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.deephash.model.SentenceEncoder;
import org.deephash.model.WordPieceTokenizer;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.ZipFile;

/**
 * The caption encoder's cost and what the cheaper one changes: all-MiniLM-L6-v2 float32 (the one the
 * plugin bundles) against langchain4j's int8-quantized twin, each at ONNX Runtime's graph optimisation
 * levels BASIC and ALL (ALL is ONNX Runtime's default), at batch sizes 1 and 8, one intra-op thread,
 * over the quick start's 400 captions; captions a second, 3 rounds, each the second of two passes. Then
 * how far the int8 embeddings are from the float ones (cosine), and how far an int8 caption's embedding
 * moves between alone and in a batch of 8 (its activations are quantized with one scale a batch).
 *
 * <pre>java -cp bench/target/benchmarks.jar org.deephash.bench.TextEncoderSpeed float.jar int8.jar</pre>
 * with the two langchain4j jars from the local Maven repository.
 */
public final class TextEncoderSpeed {
    private TextEncoderSpeed() {}

    private record Encoder(String name, byte[] onnx, WordPieceTokenizer tokenizer) {}

    private static Encoder load(String jar, String name) throws Exception {
        try (ZipFile zip = new ZipFile(jar)) {
            byte[] onnx = null;
            WordPieceTokenizer tokenizer = null;
            for (var e : java.util.Collections.list(zip.entries())) {
                if (e.getName().endsWith(".onnx")) {
                    try (InputStream in = zip.getInputStream(e)) {
                        onnx = in.readAllBytes();
                    }
                } else if (e.getName().endsWith("-tokenizer.json")) {
                    try (InputStream in = zip.getInputStream(e)) {
                        tokenizer = WordPieceTokenizer.load(in);
                    }
                }
            }
            return new Encoder(name, onnx, tokenizer);
        }
    }

    private static SentenceEncoder open(OrtEnvironment env, Encoder e, OrtSession.SessionOptions.OptLevel level) throws Exception {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.setOptimizationLevel(level);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            return new SentenceEncoder(env, e.onnx(), e.name(), e.tokenizer(), 128, 384, SentenceEncoder.Pooling.MEAN, true, false, options);
        }
    }

    public static void main(String[] args) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<String> captions = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("demo/emoji-test-sample.ndjson"))) {
            JsonNode doc = json.readTree(line);
            List<String> words = new ArrayList<>();
            doc.get("caption").forEach(w -> words.add(w.asText()));
            captions.add(String.join(", ", words));
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<Encoder> encoders = List.of(load(args[0], "float32"), load(args[1], "int8"));
        var levels = List.of(OrtSession.SessionOptions.OptLevel.BASIC_OPT, OrtSession.SessionOptions.OptLevel.ALL_OPT);
        for (int round = 1; round <= 3; round++) {
            for (Encoder e : encoders) {
                for (var level : levels) {
                    try (SentenceEncoder encoder = open(env, e, level)) {
                        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d  %-8s %-10s", round, e.name(), level));
                        for (int size : new int[] { 1, 8 }) {
                            double perSecond = 0;
                            for (int pass = 0; pass < 2; pass++) {
                                long start = System.nanoTime();
                                for (int from = 0; from < captions.size(); from += size) {
                                    encoder.embed(captions.subList(from, Math.min(captions.size(), from + size)));
                                }
                                perSecond = captions.size() / ((System.nanoTime() - start) / 1e9);
                            }
                            line.append(String.format(Locale.ROOT, "  b%d %6.0f/s", size, perSecond));
                        }
                        System.out.println(line);
                    }
                }
            }
        }
        try (
            SentenceEncoder f = open(env, encoders.get(0), OrtSession.SessionOptions.OptLevel.ALL_OPT);
            SentenceEncoder q = open(env, encoders.get(1), OrtSession.SessionOptions.OptLevel.ALL_OPT)
        ) {
            double minCos = 1, sumCos = 0, maxMove = 0, maxMoveFloat = 0;
            for (int from = 0; from < captions.size(); from += 8) {
                List<String> batch = captions.subList(from, Math.min(captions.size(), from + 8));
                float[][] fb = f.embed(batch);
                float[][] qb = q.embed(batch);
                for (int i = 0; i < batch.size(); i++) {
                    float[] fa = f.embed(List.of(batch.get(i)))[0];
                    float[] qa = q.embed(List.of(batch.get(i)))[0];
                    double cos = dot(fa, qa);
                    minCos = Math.min(minCos, cos);
                    sumCos += cos;
                    maxMove = Math.max(maxMove, maxAbs(qa, qb[i]));
                    maxMoveFloat = Math.max(maxMoveFloat, maxAbs(fa, fb[i]));
                }
            }
            System.out.printf(Locale.ROOT, "int8 against float32, alone: cosine mean %.4f, min %.4f over %d captions%n", sumCos / captions.size(), minCos, captions.size());
            System.out.printf(Locale.ROOT, "alone against in a batch of 8, largest change of a coordinate: int8 %.2e, float32 %.2e%n", maxMove, maxMoveFloat);
        }
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    private static double maxAbs(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
