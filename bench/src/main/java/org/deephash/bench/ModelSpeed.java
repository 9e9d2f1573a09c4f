package org.deephash.bench;

import com.fasterxml.jackson.databind.ObjectMapper;

import org.deephash.model.HashModel;
import org.deephash.model.ModelConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * Pictures hashed a second by the image entry point of one or more exported models, one picture per
 * call on one thread (as the ingest processor calls it), over the quick start's 400 test-split pictures;
 * the models alternate within each of 3 rounds, the first pass of each round is warm-up.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.deephash.bench.ModelSpeed model/export other/export ...</pre>
 */
public final class ModelSpeed {
    private ModelSpeed() {}

    public static void main(String[] args) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<byte[]> pictures = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("demo/emoji-test-sample.ndjson"))) {
            pictures.add(Base64.getDecoder().decode(json.readTree(line).get("image").asText()));
        }
        for (int round = 1; round <= 3; round++) {
            for (String dir : args) {
                try (HashModel model = new HashModel(ModelConfig.load(Path.of(dir)), 1, 10 << 20, 4096L * 4096)) {
                    double perSecond = 0;
                    for (int pass = 0; pass < 2; pass++) {
                        long start = System.nanoTime();
                        for (byte[] picture : pictures) {
                            model.hashImages(List.of(picture));
                        }
                        perSecond = pictures.size() / ((System.nanoTime() - start) / 1e9);
                    }
                    System.out.printf(Locale.ROOT, "round %d  %-40s %6.0f pictures/s%n", round, dir, perSecond);
                }
            }
        }
    }
}
