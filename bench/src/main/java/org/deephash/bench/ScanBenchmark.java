package org.deephash.bench;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.DocValuesFormat;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.MMapDirectory;
import org.apache.lucene.store.RandomAccessInput;
import org.apache.lucene.util.BytesRef;
import org.deephash.codec.FixedBitsDocValuesFormat;
import org.deephash.codec.FixedBitsValues;
import org.deephash.hamming.HammingIterator;
import org.deephash.hamming.HammingKernel;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HashCode;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One pass over {@code codes} random codes of {@code bits} bits, counting those within a radius of a
 * query (bits / 4: almost none match, so the pass is all scan), read five ways:
 *
 * <ul>
 *   <li>{@code rawLongArray}: codes back to back in a heap {@code long[]}, a loop per width: the limit;</li>
 *   <li>{@code rawLongArrayPlanes}: the same codes in a heap {@code long[]} laid out as the format stores
 *       them (blocks of 8 KiB, 1024 codes at most, word plane by word plane): the limit for that layout;</li>
 *   <li>{@code mmapReadLong}: the format's mmapped codes read word by word through {@code RandomAccessInput};</li>
 *   <li>{@code formatScan}: the hamming query's block scan over the FixedBits819 segment;</li>
 *   <li>{@code binaryDocValuesScan}: the same iterator over Lucene's default (Lucene90) doc values;</li>
 *   <li>{@code *Top10}: the whole Lucene query through IndexSearcher, top 10, for both formats.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "-Xms2g", "-Xmx2g" })
public class ScanBenchmark {

    @Param({ "64", "128", "256", "512" })
    public int bits;

    @Param({ "1000000" })
    public int codes;

    private int words;
    private int radius;
    private long[] raw;
    private long[] rawPlanes;
    private int[] planeDistances;
    private org.deephash.codec.FixedBitsCodes fixedCodes;
    private long[] query;
    private HashCode queryCode;
    private Path tmp;
    private DirectoryReader fixedReader;
    private DirectoryReader luceneReader;
    private LeafReader fixedLeaf;
    private LeafReader luceneLeaf;
    private RandomAccessInput mmapped;
    private IndexSearcher fixedSearcher;
    private IndexSearcher luceneSearcher;
    private org.apache.lucene.store.IndexInput mmappedInput;
    private long[] copyBlock;
    private int[] copyDistances;
    private HammingKernel kernel;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        words = bits / 64;
        radius = bits / 4;
        Random random = new Random(42);
        raw = new long[codes * words];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = random.nextLong();
        }
        rawPlanes = toPlanes(raw, codes, words);
        planeDistances = new int[planeBlock(words)];
        query = new long[words];
        for (int i = 0; i < words; i++) {
            query[i] = random.nextLong();
        }
        queryCode = HashCode.ofBytes(toBytes(query, 0, words));
        // Indices are kept between trials (and runs) under bench/target: writing 1M documents twice per
        // benchmark method would dominate the run. The same seed always writes the same codes.
        // The directory name carries the format's version: a new layout writes new indices.
        tmp = Path.of(System.getProperty("deephash.bench.dir", "target/bench-indices")).resolve(bits + "b-" + codes + "-planes8k");
        fixedReader = openOrWrite(tmp.resolve("fixed"), new FixedBitsDocValuesFormat());
        luceneReader = openOrWrite(tmp.resolve("lucene90"), null);
        fixedLeaf = fixedReader.leaves().get(0).reader();
        luceneLeaf = luceneReader.leaves().get(0).reader();
        fixedCodes = ((FixedBitsValues) fixedLeaf.getBinaryDocValues("h")).fixedBitsCodes();
        if (fixedCodes.codesPerBlock() != planeBlock(words)) {
            throw new AssertionError("the format's blocks hold " + fixedCodes.codesPerBlock() + " codes, rawLongArrayPlanes assumes " + planeBlock(words));
        }
        mmapped = fixedCodes.codes().randomAccessSlice(0, (long) codes * bits / 8);
        mmappedInput = fixedCodes.codes();
        copyBlock = new long[2048];
        System.arraycopy(raw, 0, copyBlock, 0, copyBlock.length);
        copyDistances = new int[copyBlock.length];
        kernel = HammingKernel.forCode(queryCode);

        fixedSearcher = new IndexSearcher(fixedReader);
        luceneSearcher = new IndexSearcher(luceneReader);
        fixedSearcher.setQueryCache(null);
        luceneSearcher.setQueryCache(null);
        // Every way of reading must count the same codes, at a radius where about half match.
        radius = bits / 2;
        int expected = rawLongArray();
        if (rawLongArrayPlanes() != expected
            || mmapReadLong() != expected
            || flatBlockScan() != expected
            || formatScan() != expected
            || binaryDocValuesScan() != expected) {
            throw new AssertionError("the scans disagree at radius " + radius);
        }
        radius = bits / 4;
    }

    private DirectoryReader openOrWrite(Path path, DocValuesFormat format) throws IOException {
        if (Files.exists(path.resolve("complete")) == false) {
            if (Files.exists(path)) {
                try (Stream<Path> files = Files.walk(path)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            write(path, format).close();
            Files.createFile(path.resolve("complete"));
        }
        return DirectoryReader.open(new MMapDirectory(path));
    }

    private DirectoryReader write(Path path, DocValuesFormat format) throws IOException {
        Codec codec = format == null ? new Lucene912Codec() : new Lucene912Codec() {
            @Override
            public DocValuesFormat getDocValuesFormatForField(String field) {
                return format;
            }
        };
        MMapDirectory dir = new MMapDirectory(path);
        try (IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig().setCodec(codec).setRAMBufferSizeMB(256))) {
            for (int i = 0; i < codes; i++) {
                Document doc = new Document();
                doc.add(new BinaryDocValuesField("h", new BytesRef(toBytes(raw, i * words, words))));
                writer.addDocument(doc);
            }
            writer.forceMerge(1);
        }
        return DirectoryReader.open(dir);
    }

    /** Codes per block in the format (and its heap-side twin): 8 KiB of codes, 1024 at most. */
    private static int planeBlock(int words) {
        return Math.min(1024, 1024 / words);
    }

    /** {@code raw} (codes back to back) rearranged as the format stores it: blocks, word plane by word plane. */
    private static long[] toPlanes(long[] raw, int codes, int words) {
        long[] planes = new long[raw.length];
        for (int start = 0; start < codes; start += planeBlock(words)) {
            int n = Math.min(planeBlock(words), codes - start);
            for (int k = 0; k < n; k++) {
                for (int j = 0; j < words; j++) {
                    planes[start * words + j * n + k] = raw[(start + k) * words + j];
                }
            }
        }
        return planes;
    }

    /** Little-endian bytes of {@code count} longs: the layout the format reads back as the same longs. */
    private static byte[] toBytes(long[] longs, int from, int count) {
        ByteBuffer buffer = ByteBuffer.allocate(count * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            buffer.putLong(longs[from + i]);
        }
        return buffer.array();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        fixedReader.close();
        luceneReader.close();
    }

    @Benchmark
    public int rawLongArray() {
        final long[] c = raw;
        final int r = radius;
        int n = 0;
        switch (words) {
            case 1 -> {
                final long q0 = query[0];
                for (int i = 0; i < codes; i++) {
                    if (Long.bitCount(q0 ^ c[i]) <= r) {
                        n++;
                    }
                }
            }
            case 2 -> {
                final long q0 = query[0], q1 = query[1];
                for (int i = 0, o = 0; i < codes; i++, o += 2) {
                    if (Long.bitCount(q0 ^ c[o]) + Long.bitCount(q1 ^ c[o + 1]) <= r) {
                        n++;
                    }
                }
            }
            case 4 -> {
                final long q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3];
                for (int i = 0, o = 0; i < codes; i++, o += 4) {
                    int d = Long.bitCount(q0 ^ c[o]) + Long.bitCount(q1 ^ c[o + 1]) + Long.bitCount(q2 ^ c[o + 2]) + Long.bitCount(q3 ^ c[o + 3]);
                    if (d <= r) {
                        n++;
                    }
                }
            }
            case 8 -> {
                final long q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3], q4 = query[4], q5 = query[5], q6 = query[6], q7 = query[7];
                for (int i = 0, o = 0; i < codes; i++, o += 8) {
                    int d = Long.bitCount(q0 ^ c[o]) + Long.bitCount(q1 ^ c[o + 1]) + Long.bitCount(q2 ^ c[o + 2]) + Long.bitCount(q3 ^ c[o + 3])
                        + Long.bitCount(q4 ^ c[o + 4]) + Long.bitCount(q5 ^ c[o + 5]) + Long.bitCount(q6 ^ c[o + 6]) + Long.bitCount(q7 ^ c[o + 7]);
                    if (d <= r) {
                        n++;
                    }
                }
            }
            default -> {
                final long[] q = query;
                final int w = words;
                for (int i = 0, o = 0; i < codes; i++, o += w) {
                    int d = 0;
                    for (int j = 0; j < w; j++) {
                        d += Long.bitCount(q[j] ^ c[o + j]);
                    }
                    if (d <= r) {
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /** Heap codes in the format's layout: per block, one pass per word plane, then the count. */
    @Benchmark
    public int rawLongArrayPlanes() {
        final long[] c = rawPlanes;
        final long[] q = query;
        final int w = words;
        final int r = radius;
        final int[] d = planeDistances;
        final int perBlock = planeBlock(w);
        int found = 0;
        for (int start = 0; start < codes; start += perBlock) {
            final int n = Math.min(perBlock, codes - start);
            final int base = start * w;
            final long q0 = q[0];
            for (int i = 0; i < n; i++) {
                d[i] = Long.bitCount(q0 ^ c[base + i]);
            }
            for (int j = 1; j < w; j++) {
                final long qj = q[j];
                final int o = base + j * n;
                for (int i = 0; i < n; i++) {
                    d[i] += Long.bitCount(qj ^ c[o + i]);
                }
            }
            for (int i = 0; i < n; i++) {
                found += d[i] <= r ? 1 : 0;
            }
        }
        return found;
    }

    @Benchmark
    public int mmapReadLong() throws IOException {
        final RandomAccessInput in = mmapped;
        final org.deephash.codec.FixedBitsCodes layout = fixedCodes;
        final long[] q = query;
        final int w = words;
        int n = 0;
        for (int i = 0; i < codes; i++) {
            int d = 0;
            for (int j = 0; j < w; j++) {
                d += Long.bitCount(q[j] ^ in.readLong(layout.wordOffset(i, j)));
            }
            if (d <= radius) {
                n++;
            }
        }
        return n;
    }

    /** The copy alone: the format's mmapped codes read into a heap block, block by block, no distances. */
    @Benchmark
    public long mmapCopyOnly() throws IOException {
        final long[] block = copyBlock;
        final int wordsPerBlock = block.length;
        final long totalWords = (long) codes * words;
        org.apache.lucene.store.IndexInput in = mmappedInput.clone();
        long sum = 0;
        for (long done = 0; done < totalWords; done += wordsPerBlock) {
            int n = (int) Math.min(wordsPerBlock, totalWords - done);
            in.readLongs(block, 0, n);
            sum += block[n - 1];
        }
        return sum;
    }

    /** The kernel alone: distances of a heap block of codes, repeated to cover as many codes as the scans. */
    @Benchmark
    public int kernelOnly() {
        final int perBlock = planeBlock(words);
        int sum = 0;
        for (int done = 0; done < codes; done += perBlock) {
            kernel.distances(copyBlock, perBlock, copyDistances);
            sum += copyDistances[perBlock - 1];
        }
        return sum;
    }

    /** The block scan's steps written out flat (one copy per block, the kernel's count and distances, compaction), to see what the iterator adds. */
    @Benchmark
    public int flatBlockScan() throws IOException {
        final long[] block = copyBlock;
        final int perBlock = fixedCodes.codesPerBlock();
        final int[] d = copyDistances;
        final int[] m = new int[perBlock];
        org.apache.lucene.store.IndexInput in = mmappedInput.clone();
        int found = 0;
        for (int done = 0; done < codes; done += perBlock) {
            int count = Math.min(perBlock, codes - done);
            in.readLongs(block, 0, count * words); // a whole block: its word planes back to back
            int within = kernel.distancesWithin(block, count, radius, d);
            if (within > 0) {
                int n = 0;
                for (int i = 0; i < count; i++) {
                    m[n] = i;
                    n += d[i] <= radius ? 1 : 0;
                }
                found += n;
            }
        }
        return found;
    }

    private int scan(LeafReader leaf) throws IOException {
        HammingIterator it = HammingIterator.open(leaf, "h", HammingKernel.forCode(queryCode), radius);
        int n = 0;
        while (it.nextDoc() != DocIdSetIterator.NO_MORE_DOCS) {
            n++;
        }
        return n;
    }

    @Benchmark
    public int formatScan() throws IOException {
        return scan(fixedLeaf);
    }

    @Benchmark
    public int binaryDocValuesScan() throws IOException {
        return scan(luceneLeaf);
    }

    @Benchmark
    public TopDocs formatTop10() throws IOException {
        return fixedSearcher.search(new HammingQuery("h", queryCode, bits), 10);
    }

    @Benchmark
    public TopDocs binaryDocValuesTop10() throws IOException {
        return luceneSearcher.search(new HammingQuery("h", queryCode, bits), 10);
    }
}
