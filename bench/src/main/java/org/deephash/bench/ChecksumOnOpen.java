package org.deephash.bench;

import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.IndexOutput;
import org.apache.lucene.store.MMapDirectory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * What FixedBits819's whole-file checksum at segment open costs: {@code CodecUtil.checksumEntireFile} over a
 * memory-mapped data file of N codes (page cache warm, as after a merge or a restart's first read), beside
 * one scan of the same codes with {@code Long.bitCount} (what a hamming query does to that segment).
 *
 *   java -cp bench/target/benchmarks.jar org.deephash.bench.ChecksumOnOpen [codes=10000000] [bits=64] [runs=7]
 */
public final class ChecksumOnOpen {
    public static void main(String[] args) throws Exception {
        long codes = args.length > 0 ? Long.parseLong(args[0]) : 10_000_000L;
        int bits = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        int words = bits / 64;
        Path dir = Files.createTempDirectory("checksum-on-open");
        try (Directory d = new MMapDirectory(dir)) {
            Random random = new Random(24);
            try (IndexOutput out = d.createOutput("codes.dvd", IOContext.DEFAULT)) {
                CodecUtil.writeHeader(out, "ChecksumOnOpen", 0);
                for (long i = 0; i < codes * words; i++) {
                    out.writeLong(random.nextLong());
                }
                CodecUtil.writeFooter(out);
            }
            long bytes = d.fileLength("codes.dvd");
            double[] checksum = new double[runs];
            double[] scan = new double[runs];
            long sink = 0;
            for (int r = 0; r < runs; r++) {
                try (IndexInput in = d.openInput("codes.dvd", IOContext.READONCE)) {
                    long t = System.nanoTime();
                    CodecUtil.checksumEntireFile(in);
                    checksum[r] = (System.nanoTime() - t) / 1e6;
                }
                try (IndexInput in = d.openInput("codes.dvd", IOContext.DEFAULT)) {
                    var slice = in.randomAccessSlice(CodecUtil.headerLength("ChecksumOnOpen"), codes * words * 8);
                    long q = 0x9E3779B97F4A7C15L;
                    long t = System.nanoTime();
                    int best = Integer.MAX_VALUE;
                    for (long i = 0; i < codes * words; i++) {
                        int dist = Long.bitCount(slice.readLong(i * 8) ^ q);
                        if (dist < best) {
                            best = dist;
                        }
                    }
                    scan[r] = (System.nanoTime() - t) / 1e6;
                    sink += best;
                }
            }
            Arrays.sort(checksum);
            Arrays.sort(scan);
            System.out.printf(
                "%d codes of %d bits (%.1f MB): checksum at open median %.1f ms (min %.1f, max %.1f, %.2f GB/s); one bitCount scan median %.1f ms (min %.1f, max %.1f); %d runs (%d)%n",
                codes, bits, bytes / 1e6, checksum[runs / 2], checksum[0], checksum[runs - 1], bytes / checksum[runs / 2] / 1e6,
                scan[runs / 2], scan[0], scan[runs - 1], runs, sink
            );
        } finally {
            for (Path p : Files.list(dir).toList()) {
                Files.delete(p);
            }
            Files.delete(dir);
        }
    }
}
