package org.deephash.bench;

import org.apache.lucene.codecs.DocValuesFormat;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.MMapDirectory;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.deephash.hamming.CostModel;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HammingTopKQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.SearchStrategy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * Multi-index hashing against the scan on one force-merged segment of N codes, radius and top-k, random
 * and clustered codes; also what the tables cost to build and store. Writes the codes and queries for
 * {@code bench/faiss_mih.py} (FAISS's IndexBinaryMultiHash and IndexBinaryFlat on the same data).
 *
 *   java -Xmx3g -cp bench/target/benchmarks.jar org.deephash.bench.MultiIndexBench codes=10000000 bits=64 kind=random queries=200
 *
 * kind=clustered: 10,000 centres whose bits are unbalanced (each bit set with its own probability from
 * 0.2 to 0.8), each code a centre with each bit flipped with probability 0.05; queries are indexed codes
 * with 2 bits flipped. kind=random: uniform codes; queries are half uniform, half indexed codes with 2
 * bits flipped. Each line prints p50 and p99 in ms over the queries (after a warm-up pass), and the
 * mean number of hits.
 *
 * shards=S: the segment holds one shard's share of the codes (every S-th; the queries are drawn from all of
 * them, so most queries' source codes lie in another shard), as each shard of an S-shard index sees them.
 * only=decisions: for each k of ks, how the {@code auto} top-k searched each query (the tables or a scan, and
 * why), tallied over the queries.
 */
public final class MultiIndexBench {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(arg(args, "codes", "1000000"));
        int bits = Integer.parseInt(arg(args, "bits", "64"));
        String kind = arg(args, "kind", "random");
        int queries = Integer.parseInt(arg(args, "queries", "200"));
        String only = arg(args, "only", "radius,topk,raw");
        Path dir = Path.of(arg(args, "dir", "bench/work/mih")).resolve(kind + "-" + bits + "b-" + n);
        int bytes = bits / 8;
        codesForWarmUp = n;
        String variantList = arg(args, "variants", "");
        onlyVariants = variantList.isEmpty() ? null : List.of(variantList.split(","));

        Random random = new Random(25);
        byte[] codes = generate(random, n, bits, kind);
        byte[][] qs = queries(random, codes, n, bytes, queries, kind);
        Files.createDirectories(dir);
        writeFile(dir.resolve("codes.u8"), codes);
        byte[] flatQueries = new byte[queries * bytes];
        for (int i = 0; i < queries; i++) {
            System.arraycopy(qs[i], 0, flatQueries, i * bytes, bytes);
        }
        writeFile(dir.resolve("queries.u8"), flatQueries);
        int shards = Integer.parseInt(arg(args, "shards", "1"));
        if (shards > 1) {
            // One shard's share: the codes the bench indexes from here on (the files above keep all of them).
            codes = share(codes, bytes, shards);
            n = codes.length / bytes;
            dir = dir.resolve("shard-of-" + shards);
            codesForWarmUp = n;
        }
        run(codes, n, bits, kind, qs, dir, shards, only, args);
    }

    private static void run(byte[] codes, int n, int bits, String kind, byte[][] qs, Path dir, int shards, String only, String[] args) throws Exception {
        int bytes = bits / 8;
        int queries = qs.length;

        System.out.printf(Locale.ROOT, "# %s codes=%d (shards=%d) bits=%d queries=%d java=%s cpus=%d%n", kind, n, shards, bits, queries, Runtime.version(), Runtime.getRuntime().availableProcessors());
        Built plain = build(dir.resolve("flat"), codes, n, bytes, FieldSpec.NO_INDEX);
        Built mih = build(dir.resolve("multi-index"), codes, n, bytes, FieldSpec.AUTO_SUBSTRINGS);
        System.out.printf(Locale.ROOT, "build flat: write %.1f s, merge %.1f s, %.2f bytes/code%n", plain.writeSeconds, plain.mergeSeconds, (double) plain.bytes / n);
        System.out.printf(Locale.ROOT, "build multi_index: write %.1f s, merge %.1f s, %.2f bytes/code (tables %.2f bytes/code)%n",
            mih.writeSeconds, mih.mergeSeconds, (double) mih.bytes / n, (double) (mih.bytes - plain.bytes) / n);

        ExecutorService executor = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
        try (DirectoryReader reader = DirectoryReader.open(new MMapDirectory(dir.resolve("multi-index")))) {
            IndexSearcher single = new IndexSearcher(reader);
            IndexSearcher parallel = new IndexSearcher(reader, executor);
            single.setQueryCache(null);
            parallel.setQueryCache(null);
            if (only.contains("raw")) {
                long[] words = toLongs(codes);
                System.out.printf(Locale.ROOT, "raw long[] loop, 1 thread: %s%n", time(qs, q -> rawCount(words, toLongs(q), bits / 4, 0, n, bits / 64 == 0 ? 1 : bits / 64)));
                System.out.printf(Locale.ROOT, "raw long[] loop, %d threads: %s%n", Runtime.getRuntime().availableProcessors(),
                    time(qs, q -> rawCountParallel(executor, words, toLongs(q), bits / 4, n, Math.max(1, bits / 64))));
                // The same loop over the codes in a memory-mapped file (the page cache, as the node's segments are read).
                Path rawFile = dir.resolve("raw-codes.u8");
                writeFile(rawFile, codes);
                try (FileChannel channel = FileChannel.open(rawFile, StandardOpenOption.READ)) {
                    LongBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
                    System.out.printf(Locale.ROOT, "raw mapped loop, 1 thread: %s%n", time(qs, q -> rawCount(mapped, toLongs(q), bits / 4, 0, n, Math.max(1, bits / 64))));
                    System.out.printf(Locale.ROOT, "raw mapped loop, %d threads: %s%n", Runtime.getRuntime().availableProcessors(),
                        time(qs, q -> rawCountParallel(executor, (from, to) -> rawCount(mapped, toLongs(q), bits / 4, from, to, Math.max(1, bits / 64)), n)));
                }
            }
            if (only.contains("radius")) {
                for (int r : radii(arg(args, "radii", "0,2,4,6,8,12"))) {
                    if (r > bits) {
                        continue;
                    }
                    List<QueryFor> variants = new ArrayList<>();
                    for (SearchStrategy s : SearchStrategy.values()) {
                        variants.add(q -> new HammingQuery("h", HashCode.ofBytes(q), r, s, CostModel.DEFAULT));
                    }
                    compare("radius " + r, qs, variants, List.of("auto", "scan", "index"), single, 10);
                    // The same on a searcher with an executor: a scanned segment's matches found in ranges, one per processor.
                    compare("radius " + r + " (exec)", qs, variants.subList(0, 2), List.of("auto", "scan"), parallel, 10);
                }
            }
            if (only.contains("decisions")) {
                for (int k : radii(arg(args, "ks", "10,1,100"))) {
                    decisions(k, bits, qs, parallel);
                }
            }
            if (only.contains("topk")) {
                for (int k : radii(arg(args, "ks", "10,1,100"))) {
                    List<QueryFor> variants = new ArrayList<>();
                    List<String> names = new ArrayList<>();
                    for (SearchStrategy s : SearchStrategy.values()) {
                        variants.add(q -> new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, s, CostModel.DEFAULT));
                        names.add(s.jsonName());
                    }
                    variants.add(q -> new HammingQuery("h", HashCode.ofBytes(q), bits, SearchStrategy.SCAN, CostModel.DEFAULT));
                    names.add("no-k-scan");
                    compare("top " + k, qs, variants, names, parallel, k);
                    List<QueryFor> one = List.of(
                        q -> new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, SearchStrategy.AUTO, CostModel.DEFAULT),
                        q -> new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, SearchStrategy.SCAN, CostModel.DEFAULT),
                        q -> new HammingQuery("h", HashCode.ofBytes(q), bits, SearchStrategy.SCAN, CostModel.DEFAULT)
                    );
                    compare("top " + k + " (1 thread)", qs, one, List.of("auto", "scan", "no-k-scan"), single, k);
                }
            }
        } finally {
            executor.shutdown();
        }
    }

    /** Every {@code shards}-th code. */
    private static byte[] share(byte[] codes, int bytes, int shards) {
        int kept = (codes.length / bytes + shards - 1) / shards;
        byte[] share = new byte[kept * bytes];
        for (int i = 0; i < kept; i++) {
            System.arraycopy(codes, i * shards * bytes, share, i * bytes, bytes);
        }
        return share;
    }

    /**
     * How {@code auto} found each query's top k (the decision lines of its segments, tallied over the queries), and
     * for each kind of decision what the forced tables and the scan cost those queries (medians, one timing each
     * after a warm-up pass) and the k-th distance: whether the choice was the cheaper one.
     */
    private static void decisions(int k, int bits, byte[][] qs, IndexSearcher searcher) throws Exception {
        Map<String, List<double[]>> byDecision = new TreeMap<>();
        for (int pass = 0; pass < 2; pass++) {
            for (byte[] q : qs) {
                Query rewritten = searcher.rewrite(new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, SearchStrategy.AUTO, CostModel.DEFAULT));
                TopDocs top = searcher.search(rewritten, k);
                long start = System.nanoTime();
                searcher.search(new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, SearchStrategy.INDEX, CostModel.DEFAULT), k);
                double index = (System.nanoTime() - start) / 1e6;
                start = System.nanoTime();
                searcher.search(new HammingTopKQuery("h", HashCode.ofBytes(q), bits, k, SearchStrategy.SCAN, CostModel.DEFAULT), k);
                double scan = (System.nanoTime() - start) / 1e6;
                if (pass == 0) {
                    continue; // warm-up
                }
                String how = searcher.explain(rewritten, top.scoreDocs[0].doc).toString().replace("\n", " ");
                // "... found by segment 0: <decision>": the decision without its numbers
                String decision = how.substring(how.indexOf("found by ") + "found by ".length())
                    .replaceAll("[0-9]+ buckets.*", "").replaceAll("radius [0-9]+", "radius R").trim();
                double kth = bits * (1 - top.scoreDocs[top.scoreDocs.length - 1].score);
                byDecision.computeIfAbsent(decision, d -> new ArrayList<>()).add(new double[] { kth, index, scan });
            }
        }
        byDecision.forEach((d, rows) -> {
            double[] kth = rows.stream().mapToDouble(r -> r[0]).toArray();
            double[] index = rows.stream().mapToDouble(r -> r[1]).toArray();
            double[] scan = rows.stream().mapToDouble(r -> r[2]).toArray();
            long cheaper = rows.stream().filter(r -> r[1] < r[2]).count();
            System.out.printf(Locale.ROOT, "top %-4d auto %4d queries: k-th distance p50 %.0f; tables p50 %.3f ms, scan p50 %.3f ms, tables cheaper for %d: %s%n",
                k, rows.size(), median(kth), median(index), median(scan), cheaper, d);
        });
    }

    private record Built(double writeSeconds, double mergeSeconds, long bytes) {}

    private interface QueryFor {
        Query of(byte[] code);
    }

    private interface Timed {
        void run(byte[] query) throws Exception;
    }

    /**
     * The variants side by side: each query runs through every variant in turn (after the warm-up), so that
     * the machine's drift touches them alike; p50/p99 per variant, and the median of the per-query ratio of
     * each variant to the first ("auto" where it is given) and to "scan" where there is one.
     */
    private static void compare(String label, byte[][] qs, List<QueryFor> allVariants, List<String> allNames, IndexSearcher searcher, int size) throws Exception {
        List<QueryFor> variants = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int v = 0; v < allNames.size(); v++) {
            if (onlyVariants == null || onlyVariants.contains(allNames.get(v))) {
                variants.add(allVariants.get(v));
                names.add(allNames.get(v));
            }
        }
        if (variants.isEmpty()) {
            return;
        }
        for (int i = 0; i < warmUp(qs); i++) {
            for (QueryFor v : variants) {
                searcher.search(v.of(qs[i % qs.length]), size);
            }
        }
        int n = variants.size();
        double[][] ms = new double[n][qs.length];
        long[] hits = new long[n];
        for (int i = 0; i < qs.length; i++) {
            for (int v = 0; v < n; v++) {
                Query query = variants.get(v).of(qs[i]);
                long start = System.nanoTime();
                hits[v] += searcher.search(query, size).totalHits.value;
                ms[v][i] = (System.nanoTime() - start) / 1e6;
            }
        }
        int scan = names.indexOf("scan");
        for (int v = 0; v < n; v++) {
            double[] sorted = ms[v].clone();
            Arrays.sort(sorted);
            String vsScan = "";
            if (scan >= 0 && v != scan) {
                double[] ratio = new double[qs.length];
                for (int i = 0; i < qs.length; i++) {
                    ratio[i] = ms[scan][i] / ms[v][i];
                }
                Arrays.sort(ratio);
                vsScan = String.format(Locale.ROOT, "  scan/this per query: median %.2fx (p10 %.2fx, p90 %.2fx); p50 ratio %.2fx",
                    ratio[qs.length / 2], ratio[qs.length / 10], ratio[qs.length * 9 / 10], median(ms[scan]) / sorted[qs.length / 2]);
            }
            System.out.printf(Locale.ROOT, "%-18s %-9s p50 %8.3f ms p99 %8.3f ms hits %7.1f%s%n", label, names.get(v), sorted[qs.length / 2],
                sorted[Math.min(qs.length - 1, (int) Math.ceil(qs.length * 0.99) - 1)], (double) hits[v] / qs.length, vsScan);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** Warm-up passes (2,000 queries at 1M codes, fewer for more), then a timed pass: p50 and p99 in ms. */
    private static String time(byte[][] qs, Timed body) throws Exception {
        for (int i = 0; i < warmUp(qs); i++) {
            body.run(qs[i % qs.length]);
        }
        double[] ms = new double[qs.length];
        for (int i = 0; i < qs.length; i++) {
            long start = System.nanoTime();
            body.run(qs[i]);
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        return String.format(Locale.ROOT, "p50 %8.3f ms p99 %8.3f ms", ms[ms.length / 2], ms[Math.min(ms.length - 1, (int) Math.ceil(ms.length * 0.99) - 1)]);
    }

    private static int warmUp(byte[][] qs) {
        return Math.max(2 * qs.length, (int) (2_000_000_000L / codesForWarmUp));
    }

    private static int codesForWarmUp = 1;
    /** variants=auto,scan: only these variants (for profiling one); all by default. */
    private static List<String> onlyVariants;

    private static byte[] generate(Random random, int n, int bits, String kind) {
        int bytes = bits / 8;
        byte[] codes = new byte[n * bytes];
        if (kind.equals("random")) {
            random.nextBytes(codes);
            return codes;
        }
        if (kind.equals("clustered") == false) {
            throw new IllegalArgumentException("kind must be random or clustered but was [" + kind + "]");
        }
        double[] bias = new double[bits];
        for (int b = 0; b < bits; b++) {
            bias[b] = 0.2 + 0.6 * random.nextDouble();
        }
        int centres = 10_000;
        byte[] centre = new byte[centres * bytes];
        for (int c = 0; c < centres; c++) {
            for (int b = 0; b < bits; b++) {
                if (random.nextDouble() < bias[b]) {
                    centre[c * bytes + b / 8] |= (byte) (1 << (b % 8));
                }
            }
        }
        for (int i = 0; i < n; i++) {
            int c = random.nextInt(centres);
            System.arraycopy(centre, c * bytes, codes, i * bytes, bytes);
            for (int b = 0; b < bits; b++) {
                if (random.nextDouble() < 0.05) {
                    codes[i * bytes + b / 8] ^= (byte) (1 << (b % 8));
                }
            }
        }
        return codes;
    }

    private static byte[][] queries(Random random, byte[] codes, int n, int bytes, int count, String kind) {
        byte[][] qs = new byte[count][];
        for (int i = 0; i < count; i++) {
            byte[] q = new byte[bytes];
            if (kind.equals("random") && i % 2 == 0) {
                random.nextBytes(q);
            } else {
                System.arraycopy(codes, random.nextInt(n) * bytes, q, 0, bytes);
                for (int f = 0; f < 2; f++) {
                    int b = random.nextInt(bytes * 8);
                    q[b / 8] ^= (byte) (1 << (b % 8));
                }
            }
            qs[i] = q;
        }
        return qs;
    }

    private static Built build(Path path, byte[] codes, int n, int bytes, int substrings) throws IOException {
        if (Files.exists(path)) {
            try (Stream<Path> files = Files.walk(path)) {
                for (Path p : files.sorted((a, b) -> b.compareTo(a)).toList()) {
                    Files.delete(p);
                }
            }
        }
        FieldSpec spec = new FieldSpec(bytes, substrings);
        DocValuesFormat format = new FixedBitsDocValuesFormat(f -> spec);
        Lucene912Codec codec = new Lucene912Codec() {
            @Override
            public DocValuesFormat getDocValuesFormatForField(String field) {
                return format;
            }
        };
        long start = System.nanoTime();
        double write;
        try (MMapDirectory dir = new MMapDirectory(path);
             IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig().setCodec(codec).setRAMBufferSizeMB(32).setUseCompoundFile(false))) {
            for (int i = 0; i < n; i++) {
                Document doc = new Document();
                doc.add(new BinaryDocValuesField("h", new BytesRef(codes, i * bytes, bytes)));
                writer.addDocument(doc);
            }
            writer.commit();
            write = (System.nanoTime() - start) / 1e9;
            start = System.nanoTime();
            writer.getConfig().getMergePolicy().setNoCFSRatio(0.0);
            writer.forceMerge(1);
            writer.commit();
        }
        double merge = (System.nanoTime() - start) / 1e9;
        long size = 0;
        try (Stream<Path> files = Files.list(path)) {
            for (Path p : files.filter(p -> p.getFileName().toString().matches(".*\\.(dvd|dvm|cfs)")).toList()) {
                size += Files.size(p);
            }
        }
        return new Built(write, merge, size);
    }

    private static long rawCount(long[] words, long[] q, int bound, int from, int to, int perCode) {
        long count = 0;
        if (perCode == 1) {
            long q0 = q[0];
            for (int i = from; i < to; i++) {
                count += Long.bitCount(words[i] ^ q0) <= bound ? 1 : 0;
            }
            return count;
        }
        for (int i = from; i < to; i++) {
            int d = 0;
            for (int w = 0; w < perCode; w++) {
                d += Long.bitCount(words[i * perCode + w] ^ q[w]);
            }
            count += d <= bound ? 1 : 0;
        }
        return count;
    }

    /** {@link #rawCount(long[], long[], int, int, int, int)} over a mapped file's longs. */
    private static long rawCount(LongBuffer words, long[] q, int bound, int from, int to, int perCode) {
        long count = 0;
        if (perCode == 1) {
            long q0 = q[0];
            for (int i = from; i < to; i++) {
                count += Long.bitCount(words.get(i) ^ q0) <= bound ? 1 : 0;
            }
            return count;
        }
        for (int i = from; i < to; i++) {
            int d = 0;
            for (int w = 0; w < perCode; w++) {
                d += Long.bitCount(words.get(i * perCode + w) ^ q[w]);
            }
            count += d <= bound ? 1 : 0;
        }
        return count;
    }

    private interface RangeCount {
        long count(int from, int to) throws Exception;
    }

    private static long rawCountParallel(ExecutorService executor, long[] words, long[] q, int bound, int n, int perCode) throws Exception {
        return rawCountParallel(executor, (from, to) -> rawCount(words, q, bound, from, to, perCode), n);
    }

    private static long rawCountParallel(ExecutorService executor, RangeCount range, int n) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        List<java.util.concurrent.Future<Long>> parts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int from = (int) ((long) n * t / threads);
            int to = (int) ((long) n * (t + 1) / threads);
            parts.add(executor.submit(() -> range.count(from, to)));
        }
        long total = 0;
        for (var part : parts) {
            total += part.get();
        }
        return total;
    }

    private static long[] toLongs(byte[] bytes) {
        long[] words = new long[Math.max(1, bytes.length / 8)];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(words, 0, bytes.length / 8);
        return words;
    }

    private static void writeFile(Path path, byte[] data) throws IOException {
        try (OutputStream out = Files.newOutputStream(path)) {
            out.write(data);
        }
    }

    private static int[] radii(String list) {
        return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    private static String arg(String[] args, String name, String fallback) {
        for (String a : args) {
            if (a.startsWith(name + "=")) {
                return a.substring(name.length() + 1);
            }
        }
        return fallback;
    }
}
