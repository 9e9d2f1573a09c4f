package org.deephash.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.deephash.model.HashModel;
import org.deephash.model.ModelConfig;
import org.deephash.model.ModelConfig.EntryPoint;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What batching buys inside the model, without a node: documents hashed a second on one thread (one
 * intra-op thread, no caption cache) by {@link HashModel#hashBatch} for each pipeline (picture, caption,
 * fused, fused + both per-modality codes) at each batch size, over the quick start's 400 test-split
 * pictures and their captions. Batch sizes, and models where several are named, alternate within each
 * of 3 rounds; each measurement is the second of two passes (the first is warm-up).
 *
 * <pre>java -cp bench/target/benchmarks.jar org.deephash.bench.BatchSpeed [model dirs, comma-separated] [batch sizes, e.g. 1,8,32]</pre>
 */
public final class BatchSpeed {
    private BatchSpeed() {}

    public static void main(String[] args) throws Exception {
        List<Path> dirs = java.util.Arrays.stream((args.length > 0 ? args[0] : "target/models/default").split(",")).map(Path::of).toList();
        int[] sizes = java.util.Arrays.stream((args.length > 1 ? args[1] : "1,4,16,32,64").split(",")).mapToInt(Integer::parseInt).toArray();
        ObjectMapper json = new ObjectMapper();
        List<byte[]> pictures = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("demo/emoji-test-sample.ndjson"))) {
            JsonNode doc = json.readTree(line);
            pictures.add(Base64.getDecoder().decode(doc.get("image").asText()));
            List<String> words = new ArrayList<>();
            doc.get("caption").forEach(w -> words.add(w.asText()));
            captions.add(String.join(", ", words));
        }
        List<Set<EntryPoint>> pipelines = List.of(
            EnumSet.of(EntryPoint.IMAGE),
            EnumSet.of(EntryPoint.TEXT),
            EnumSet.of(EntryPoint.FUSED),
            EnumSet.of(EntryPoint.FUSED, EntryPoint.IMAGE, EntryPoint.TEXT)
        );
        List<HashModel> models = new ArrayList<>();
        try {
            for (Path dir : dirs) {
                models.add(new HashModel(ModelConfig.load(dir), 1, 10 << 20, 4096L * 4096));
            }
            for (int round = 1; round <= 3; round++) {
                for (Set<EntryPoint> pipeline : pipelines) {
                    for (int m = 0; m < models.size(); m++) {
                        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "round %d  %-22s", round, names(pipeline)));
                        if (models.size() > 1) {
                            line.append(String.format(Locale.ROOT, " %-24s", dirs.get(m)));
                        }
                        for (int size : sizes) {
                            line.append(String.format(Locale.ROOT, "  b%-3d %6.0f/s", size, perSecond(models.get(m), pipeline, size, pictures, captions)));
                        }
                        System.out.println(line);
                    }
                }
            }
        } finally {
            for (HashModel model : models) {
                model.close();
            }
        }
    }

    /** Documents a second over every picture and caption in batches of {@code size}: the second of two passes. */
    private static double perSecond(HashModel model, Set<EntryPoint> pipeline, int size, List<byte[]> pictures, List<String> captions) {
        boolean image = pipeline.stream().anyMatch(EntryPoint::takesImage);
        boolean text = pipeline.stream().anyMatch(EntryPoint::takesText);
        double perSecond = 0;
        for (int pass = 0; pass < 2; pass++) {
            long start = System.nanoTime();
            for (int from = 0; from < pictures.size(); from += size) {
                int to = Math.min(pictures.size(), from + size);
                model.hashBatch(image ? pictures.subList(from, to) : null, text ? captions.subList(from, to) : null, pipeline);
            }
            perSecond = pictures.size() / ((System.nanoTime() - start) / 1e9);
        }
        return perSecond;
    }

    private static String names(Set<EntryPoint> pipeline) {
        return String.join("+", pipeline.stream().map(EntryPoint::jsonName).toList());
    }
}
