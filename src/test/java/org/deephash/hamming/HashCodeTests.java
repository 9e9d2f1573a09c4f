package org.deephash.hamming;

import org.elasticsearch.test.ESTestCase;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

public class HashCodeTests extends ESTestCase {

    public void testHexRoundTripIsLowerCase() {
        int bits = 8 * between(1, 512);
        byte[] bytes = HammingOracle.randomCode(random(), bits);
        HashCode code = HashCode.ofBytes(bytes);
        String hex = code.toHex();
        assertThat(hex.length(), equalTo(bits / 4));
        assertThat(hex, equalTo(hex.toLowerCase(Locale.ROOT)));
        assertThat(HashCode.fromHex(hex), equalTo(code));
        assertThat(HashCode.fromHex(hex.toUpperCase(Locale.ROOT)), equalTo(code));
        assertThat(code.bits(), equalTo(bits));
    }

    public void testBitListMatchesHexInReadingOrder() {
        assertThat(HashCode.fromBitList(List.of(1, 0, 0, 0, 0, 0, 0, 0)).toHex(), equalTo("80"));
        assertThat(HashCode.fromBitList(List.of(0, 0, 0, 0, 0, 0, 0, 1)).toHex(), equalTo("01"));
        int bits = 8 * between(1, 64);
        byte[] bytes = HammingOracle.randomCode(random(), bits);
        List<Object> list = new ArrayList<>();
        for (int i = 0; i < bits; i++) {
            list.add(randomBoolean() ? HammingOracle.bit(bytes, i) : (long) HammingOracle.bit(bytes, i));
        }
        assertThat(HashCode.fromBitList(list), equalTo(HashCode.ofBytes(bytes)));
    }

    public void testBadHexIsExplained() {
        assertThat(expectThrows(IllegalArgumentException.class, () -> HashCode.fromHex("abc")).getMessage(), containsString("even number"));
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashCode.fromHex("abzd"));
        assertThat(e.getMessage(), containsString("[z] at position 2 in [abzd]"));
        assertThat(expectThrows(IllegalArgumentException.class, () -> HashCode.fromHex("")).getMessage(), containsString("empty"));
    }

    public void testBadBitListIsExplained() {
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashCode.fromBitList(List.of(1, 0, 2, 0, 0, 0, 0, 0)));
        assertThat(e.getMessage(), containsString("expected 0 or 1 at position 2 of the bit array but got [2]"));
        e = expectThrows(IllegalArgumentException.class, () -> HashCode.fromBitList(List.of(1, 0, 1)));
        assertThat(e.getMessage(), containsString("got 3 values"));
        e = expectThrows(IllegalArgumentException.class, () -> HashCode.fromBitList(List.of(1, 0, 0, 0, 0, 0, 0, 0.5)));
        assertThat(e.getMessage(), containsString("[0.5]"));
    }

    public void testCheckBitsNamesBothWidths() {
        HashCode code = HashCode.ofBytes(new byte[16]);
        IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> code.checkBits(64));
        assertThat(e.getMessage(), containsString("expected a code of [64] bits"));
        assertThat(e.getMessage(), containsString("got [128] bits"));
        assertSame(code, code.checkBits(128));
    }

    public void testValidateBits() {
        for (int bits : new int[] { 8, 64, 4096, 8 * between(1, 512) }) {
            HashCode.validateBits(bits);
        }
        for (int bits : new int[] { 0, -8, 12, 4104, 8192, 63 }) {
            IllegalArgumentException e = expectThrows(IllegalArgumentException.class, () -> HashCode.validateBits(bits));
            assertThat(e.getMessage(), containsString("[" + bits + "]"));
        }
    }
}
