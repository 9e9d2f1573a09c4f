package org.deephash.hamming;

import org.elasticsearch.test.ESTestCase;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.instanceOf;

public class HammingKernelTests extends ESTestCase {

    public void testSpecialisedWidthsAreChosen() {
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[8])), instanceOf(HammingKernel.Bits64.class));
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[16])), instanceOf(HammingKernel.Bits128.class));
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[32])), instanceOf(HammingKernel.Bits256.class));
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[9])), instanceOf(HammingKernel.Generic.class));
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[64])), instanceOf(HammingKernel.Bits512.class));
        assertThat(HammingKernel.forCode(HashCode.ofBytes(new byte[128])), instanceOf(HammingKernel.Generic.class));
    }

    public void testMatchesOracleAtSpecialisedWidths() {
        for (int bits : new int[] { 64, 128, 256, 512 }) {
            checkAgainstOracle(bits);
        }
    }

    public void testMatchesOracleAtRandomWidths() {
        for (int i = 0; i < 20; i++) {
            checkAgainstOracle(8 * between(1, 512));
        }
    }

    public void testExtremes() {
        for (int bits : new int[] { 8, 64, 72, 128, 256, 512, 4096 }) {
            byte[] zeros = new byte[bits / 8];
            byte[] ones = new byte[bits / 8];
            java.util.Arrays.fill(ones, (byte) 0xFF);
            HammingKernel kernel = HammingKernel.forCode(HashCode.ofBytes(zeros));
            assertThat(kernel.distance(zeros, 0), equalTo(0));
            assertThat(kernel.distance(ones, 0), equalTo(bits));
        }
    }

    public void testBlockDistancesMatchOracle() {
        for (int bits : new int[] { 64, 128, 256, 512, 8 * between(1, 200) }) {
            byte[] query = HammingOracle.randomCode(random(), bits);
            checkBlock(query, HammingKernel.forCode(HashCode.ofBytes(query)));
        }
    }

    /** Both ways of scanning 64-bit blocks, whichever one this CPU is given. */
    public void testBothSixtyFourBitBlockKernelsMatchOracle() {
        for (int i = 0; i < 10; i++) {
            byte[] query = HammingOracle.randomCode(random(), 64);
            checkBlock(query, new HammingKernel.Bits64CountFirst(query));
            checkBlock(query, new HammingKernel.Bits64(query));
        }
    }

    private void checkBlock(byte[] query, HammingKernel kernel) {
        int bits = query.length * 8;
        int count = between(1, 300);
        int bytes = bits / 8;
        byte[] block = new byte[count * bytes];
        for (int i = 0; i < count; i++) {
            byte[] code = HammingOracle.flip(random(), query, between(0, bits));
            System.arraycopy(code, 0, block, i * bytes, bytes);
        }
        int[] expected = new int[count];
        for (int i = 0; i < count; i++) {
            expected[i] = HammingOracle.distance(query, Arrays.copyOfRange(block, i * bytes, (i + 1) * bytes));
        }
        int[] distances = new int[count + 1];
        kernel.distances(block, count, distances);
        assertArrayEquals(expected, Arrays.copyOf(distances, count));
        // A bound that some, none or all codes meet: the count, and with any match every distance.
        int bound = randomFrom(-1, 0, between(0, bits), bits);
        int within = (int) Arrays.stream(expected).filter(d -> d <= bound).count();
        int[] measured = new int[count];
        assertThat("bits=" + bits + " bound=" + bound, kernel.distancesWithin(block, count, bound, measured), equalTo(within));
        if (within > 0) {
            assertArrayEquals(expected, measured);
        }
        if (bits % 64 == 0) {
            // Word plane by word plane, as the format stores a block: word j of code i at [j * count + i].
            long[] words = new long[count * bytes / 8];
            ByteBuffer le = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                for (int j = 0; j < bytes / 8; j++) {
                    words[j * count + i] = le.getLong(i * bytes + j * 8);
                }
            }
            int[] fromWords = new int[count];
            kernel.distances(words, count, fromWords);
            assertArrayEquals(expected, fromWords);
            int[] measuredWords = new int[count];
            assertThat("bits=" + bits + " bound=" + bound, kernel.distancesWithin(words, count, bound, measuredWords), equalTo(within));
            if (within > 0) {
                assertArrayEquals(expected, measuredWords);
            }
        }
    }

    /** Codes at a random offset inside a larger array, as doc values hand them out. */
    private void checkAgainstOracle(int bits) {
        byte[] query = HammingOracle.randomCode(random(), bits);
        HammingKernel kernel = HammingKernel.forCode(HashCode.ofBytes(query));
        assertThat(kernel.bits(), equalTo(bits));
        for (int i = 0; i < 50; i++) {
            byte[] doc = randomBoolean() ? HammingOracle.randomCode(random(), bits) : HammingOracle.flip(random(), query, between(0, bits));
            int offset = between(0, 17);
            byte[] buffer = new byte[offset + doc.length + between(0, 9)];
            random().nextBytes(buffer);
            System.arraycopy(doc, 0, buffer, offset, doc.length);
            assertThat("bits=" + bits, kernel.distance(buffer, offset), equalTo(HammingOracle.distance(query, doc)));
        }
    }
}
