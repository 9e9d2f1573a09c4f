package org.deephash.mapper;

import org.deephash.DeepHashPlugin;
import org.deephash.compat.TestCompat;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HashCode;
import org.deephash.query.HammingQueryBuilder;
import org.elasticsearch.ExceptionsHelper;
import org.elasticsearch.action.fieldcaps.FieldCapabilities;
import org.elasticsearch.action.fieldcaps.FieldCapabilitiesResponse;
import org.elasticsearch.action.search.SearchPhaseExecutionException;
import org.elasticsearch.action.search.SearchRequestBuilder;
import org.elasticsearch.common.document.DocumentField;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.mapper.DocumentParsingException;
import org.elasticsearch.index.mapper.MapperParsingException;
import org.elasticsearch.index.query.QueryBuilders;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.search.SearchHit;
import org.elasticsearch.test.ESSingleNodeTestCase;
import org.elasticsearch.xcontent.XContentType;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertHitCount;
import static org.elasticsearch.test.hamcrest.ElasticsearchAssertions.assertResponse;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** The {@code binary_hash} field on one in-process node: mapping, parsing, retrieval and bad input. */
public class BinaryHashFieldMapperTests extends ESSingleNodeTestCase {

    @Override
    protected Collection<Class<? extends Plugin>> getPlugins() {
        return List.of(DeepHashPlugin.class);
    }

    private void createHashIndex(String index, String extraFieldParams) {
        client().admin().indices().prepareCreate(index).setMapping("""
            {"properties": {"h": {"type": "binary_hash", "bits": 64%s}, "tag": {"type": "keyword"}}}""".formatted(extraFieldParams)).get();
    }

    private void index(String index, String id, String json) {
        prepareIndex(index).setId(id).setSource(json, XContentType.JSON).get();
    }

    public void testMappingIsReturnedWithBits() {
        createHashIndex("idx", "");
        Map<String, Object> mapping = TestCompat.mapping(client(), "idx");
        assertThat(mapping.toString(), containsString("h={type=binary_hash, bits=64}"));
    }

    public void testBitsIsRequiredAndChecked() {
        for (String params : new String[] { "", "\"bits\": 12", "\"bits\": 0", "\"bits\": 8192", "\"bits\": -8", "\"bits\": \"abc\"", "\"bits\": 6.5" }) {
            MapperParsingException e = expectThrows(
                MapperParsingException.class,
                () -> client().admin().indices().prepareCreate("bad").setMapping("""
                    {"properties": {"h": {"type": "binary_hash"%s}}}""".formatted(params.isEmpty() ? "" : ", " + params)).get()
            );
            String message = ExceptionsHelper.unwrapCause(e).getMessage() + " " + e.getCause();
            assertThat(params, message, containsString("field [h]"));
            assertThat(params, message, containsString("[bits]"));
            assertThat(ExceptionsHelper.status(e), equalTo(RestStatus.BAD_REQUEST));
        }
    }

    public void testBitsCannotBeChanged() {
        createHashIndex("idx", "");
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> client().admin().indices().preparePutMapping("idx").setSource("""
                {"properties": {"h": {"type": "binary_hash", "bits": 128}}}""", XContentType.JSON).get()
        );
        assertThat(e.getMessage(), containsString("Cannot update parameter [bits] from [64] to [128]"));
        // The same mapping again is fine.
        client().admin().indices().preparePutMapping("idx").setSource("""
            {"properties": {"h": {"type": "binary_hash", "bits": 64}}}""", XContentType.JSON).get();
    }

    public void testValueFormsAreTheSameCode() {
        createHashIndex("idx", "");
        byte[] code = HammingOracle.randomCode(random(), 64);
        String hex = HashCode.ofBytes(code).toHex();
        List<Integer> bits = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            bits.add(HammingOracle.bit(code, i));
        }
        index("idx", "lower", "{\"h\": \"" + hex + "\", \"tag\": \"x\"}");
        index("idx", "upper", "{\"h\": \"" + hex.toUpperCase(Locale.ROOT) + "\"}");
        index("idx", "bits", "{\"h\": " + bits + "}");
        index("idx", "null", "{\"h\": null}");
        index("idx", "empty", "{\"h\": []}");
        index("idx", "absent", "{\"tag\": \"y\"}");
        client().admin().indices().prepareRefresh("idx").get();

        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h")), 3);
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.termQuery("h", hex.toUpperCase(Locale.ROOT))), 3);
        assertHitCount(client().prepareSearch("idx").setQuery(new HammingQueryBuilder("h", HashCode.ofBytes(code), 0)), 3);

        SearchRequestBuilder fields = client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h")).addFetchField("h");
        SearchRequestBuilder docValues = client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h")).addDocValueField("h");
        for (SearchRequestBuilder search : List.of(fields, docValues)) {
            assertResponse(search, response -> {
                assertThat(response.getHits().getHits().length, equalTo(3));
                for (SearchHit hit : response.getHits()) {
                    DocumentField fetched = hit.field("h");
                    assertThat(hit.getId(), fetched.getValues(), equalTo(List.of(hex)));
                }
            });
        }
        assertResponse(client().prepareSearch("idx").setQuery(QueryBuilders.idsQuery().addIds("upper")), r -> {
            assertThat(r.getHits().getAt(0).getSourceAsMap().get("h"), equalTo(hex.toUpperCase(Locale.ROOT)));
        });
    }

    public void testMalformedValuesAreRejectedWithTheFieldAndWhatWasExpected() {
        createHashIndex("idx", "");
        String[] bad = {
            "\"abc\"",                        // too short
            "\"0123456789abcdef00\"",         // too long
            "\"0123456789abcdeg\"",           // not hex
            "1234567890123456",               // a number, even of the right length
            "true",
            "{\"a\": 1}",
            "[1, 0, 1]",                      // too few bits
            "[" + "0, ".repeat(63) + "2]",    // not a bit
            "[\"0123456789abcdef\", \"0123456789abcdef\"]", // two codes
        };
        for (String value : bad) {
            DocumentParsingException e = expectThrows(DocumentParsingException.class, () -> index("idx", "1", "{\"h\": " + value + "}"));
            assertThat(ExceptionsHelper.status(e), equalTo(RestStatus.BAD_REQUEST));
            String message = e.getMessage() + " / " + e.getCause().getMessage();
            assertThat(value, message, containsString("failed to parse field [h] of type [binary_hash]"));
            assertThat(value, e.getCause().getMessage(), containsString("field [h] of type [binary_hash] with [bits] = 64"));
        }
        assertThat(
            expectThrows(DocumentParsingException.class, () -> index("idx", "1", "{\"h\": \"abc\"}")).getCause().getMessage(),
            containsString("expected 16 hex characters but got 3")
        );
        assertThat(
            expectThrows(DocumentParsingException.class, () -> index("idx", "1", "{\"h\": \"0123456789abcdeg\"}")).getCause().getMessage(),
            containsString("found [g] at position 15")
        );
        assertThat(
            expectThrows(DocumentParsingException.class, () -> index("idx", "1", "{\"h\": {\"a\": \"0123456789abcdef\"}}")).getCause().getMessage(),
            containsString("expected a hex string or an array of 0/1 values but got an object")
        );
        assertThat(
            expectThrows(DocumentParsingException.class, () -> index("idx", "1", "{\"h\": [" + "\"1\", ".repeat(63) + "\"0\"]}")).getCause().getMessage(),
            containsString("expected the number 0 or 1 at position 0 of the bit array but got the string [\"1\"]")
        );
        client().admin().indices().prepareRefresh("idx").get();
        assertHitCount(client().prepareSearch("idx"), 0);
    }

    public void testIgnoreMalformedKeepsTheDocumentWithoutTheCode() {
        createHashIndex("idx", ", \"ignore_malformed\": true");
        index("idx", "bad", "{\"h\": \"xyz\", \"tag\": \"kept\"}");
        index("idx", "badarray", "{\"h\": [1, [2, 3], {\"a\": 1}], \"tag\": \"kept\"}");
        index("idx", "good", "{\"h\": \"00000000000000ff\", \"tag\": \"kept\"}");
        client().admin().indices().prepareRefresh("idx").get();
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.termQuery("tag", "kept")), 3);
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h")), 1);
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.termQuery("_ignored", "h")), 2);
    }

    public void testIndexSettingIgnoreMalformed() {
        client().admin().indices().prepareCreate("idx")
            .setSettings(Settings.builder().put("index.mapping.ignore_malformed", true))
            .setMapping("{\"properties\": {\"h\": {\"type\": \"binary_hash\", \"bits\": 8}}}")
            .get();
        index("idx", "bad", "{\"h\": \"zz\"}");
        client().admin().indices().prepareRefresh("idx").get();
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.termQuery("_ignored", "h")), 1);
    }

    public void testQueryErrorsAreBadRequestsThatSayWhatIsWrong() {
        createHashIndex("idx", "");
        index("idx", "1", "{\"h\": \"00000000000000ff\", \"tag\": \"x\"}");
        client().admin().indices().prepareRefresh("idx").get();

        assertQueryFails(new HammingQueryBuilder("nope", HashCode.fromHex("00000000000000ff"), null), "field [nope] is not mapped");
        assertQueryFails(new HammingQueryBuilder("tag", HashCode.fromHex("00000000000000ff"), null), "field [tag] is of type [keyword]");
        assertQueryFails(
            new HammingQueryBuilder("h", HashCode.fromHex("00000000000000ff00"), null),
            "field [h] holds codes of [64] bits (16 hex characters) but [code] has [72] bits"
        );
        assertHitCount(
            client().prepareSearch("idx").setQuery(new HammingQueryBuilder("nope", HashCode.fromHex("00"), null).ignoreUnmapped(true)),
            0
        );
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> new HammingQueryBuilder("h", HashCode.fromHex("00000000000000ff"), 65)
        );
        assertThat(e.getMessage(), containsString("[max_distance] must be between 0 and the code's 64 bits but was [65]"));
    }

    public void testBitsFieldIsOffByDefaultAndShownWhenOn() {
        createHashIndex("plain", "");
        createHashIndex("withbits", ", \"bits_field\": true");
        Map<String, Object> plain = TestCompat.mapping(client(), "plain");
        Map<String, Object> withBits = TestCompat.mapping(client(), "withbits");
        assertThat(plain.toString(), containsString("h={type=binary_hash, bits=64}"));
        assertThat(withBits.toString(), containsString("h={type=binary_hash, bits=64, bits_field=true}"));

        assertNull("no sub-field without bits_field", client().prepareFieldCaps("plain").setFields("h*").get().getField("h.bits"));
        FieldCapabilitiesResponse caps = client().prepareFieldCaps("withbits").setFields("h*").get();
        FieldCapabilities bitsCaps = caps.getField("h.bits").get("integer");
        assertTrue(bitsCaps.isAggregatable());
        assertTrue(bitsCaps.isSearchable());
    }

    public void testBitsFieldIsCheckedAndCannotBeChanged() {
        MapperParsingException e = expectThrows(
            MapperParsingException.class,
            () -> client().admin().indices().prepareCreate("bad").setMapping("""
                {"properties": {"h": {"type": "binary_hash", "bits": 64, "bits_field": "yes"}}}""").get()
        );
        assertThat(ExceptionsHelper.status(e), equalTo(RestStatus.BAD_REQUEST));
        assertThat(e.getMessage(), containsString("[bits_field] on field [h] must be true or false but was [yes]"));

        Exception clash = expectThrows(
            Exception.class,
            () -> client().admin().indices().prepareCreate("clash").setMapping("""
                {"properties": {"h": {"type": "binary_hash", "bits": 64, "bits_field": true, "fields": {"bits": {"type": "keyword"}}}}}""").get()
        );
        // A multi-field of the same name is refused by Elasticsearch's own check.
        assertThat(clash.getMessage(), containsString("Field [h.bits] is defined more than once"));
        assertThat(ExceptionsHelper.status(clash), equalTo(RestStatus.BAD_REQUEST));

        createHashIndex("idx", "");
        IllegalArgumentException update = expectThrows(
            IllegalArgumentException.class,
            () -> client().admin().indices().preparePutMapping("idx").setSource("""
                {"properties": {"h": {"type": "binary_hash", "bits": 64, "bits_field": true}}}""", XContentType.JSON).get()
        );
        assertThat(update.getMessage(), containsString("Cannot update parameter [bits_field] from [false] to [true]"));
    }

    /** Each set bit's position, most significant bit of the first hex digit first; none for an all-zero code. */
    public void testBitsFieldHoldsThePositionsOfTheSetBits() {
        int bits = randomFrom(8, 64, 72, 256);
        client().admin().indices().prepareCreate("idx").setMapping("""
            {"properties": {"h": {"type": "binary_hash", "bits": BITS, "bits_field": true}}}""".replace("BITS", Integer.toString(bits))).get();
        byte[] code = HammingOracle.randomCode(random(), bits);
        List<Long> expected = new ArrayList<>();
        for (int i = 0; i < bits; i++) {
            if (HammingOracle.bit(code, i) == 1) {
                expected.add((long) i);
            }
        }
        index("idx", "random", "{\"h\": \"" + HashCode.ofBytes(code).toHex() + "\"}");
        index("idx", "zeros", "{\"h\": \"" + "0".repeat(bits / 4) + "\"}");
        index("idx", "first", "{\"h\": \"8" + "0".repeat(bits / 4 - 1) + "\"}");
        index("idx", "none", "{\"other\": 1}");
        client().admin().indices().prepareRefresh("idx").get();
        assertResponse(client().prepareSearch("idx").setQuery(QueryBuilders.idsQuery().addIds("random")).addDocValueField("h.bits"), r -> {
            List<Object> got = r.getHits().getAt(0).field("h.bits").getValues();
            assertThat(got.stream().map(v -> ((Number) v).longValue()).toList(), equalTo(expected));
        });
        assertResponse(client().prepareSearch("idx").setQuery(QueryBuilders.idsQuery().addIds("first")).addDocValueField("h.bits"), r -> {
            assertThat(r.getHits().getAt(0).field("h.bits").getValues().stream().map(v -> ((Number) v).longValue()).toList(), equalTo(List.of(0L)));
        });
        // An all-zero code has a code but no bits: count documents with a code on the binary_hash field itself.
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h.bits")), expected.isEmpty() ? 1 : 2);
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.existsQuery("h")), 3);
        assertHitCount(client().prepareSearch("idx").setQuery(QueryBuilders.termQuery("h.bits", 0)), HammingOracle.bit(code, 0) + 1);
    }

    private void assertQueryFails(HammingQueryBuilder query, String expected) {
        SearchPhaseExecutionException e = expectThrows(SearchPhaseExecutionException.class, () -> client().prepareSearch("idx").setQuery(query).get());
        assertThat(e.status(), equalTo(RestStatus.BAD_REQUEST));
        assertThat(e.shardFailures()[0].reason(), containsString(expected));
    }

    private void createCodecIndex(String index, String indexOptions) {
        client().admin().indices().prepareCreate(index).setSettings(Settings.builder().put("index.deep_hash.codec", true).put("index.number_of_shards", 1)).setMapping("""
            {"properties": {"h": {"type": "binary_hash", "bits": 64%s}}}""".formatted(indexOptions.isEmpty() ? "" : ", \"index_options\": " + indexOptions)).get();
    }

    public void testIndexOptionsAreCheckedAndShown() {
        createCodecIndex("mih", "{\"type\": \"multi_index\"}");
        createCodecIndex("mih4", "{\"type\": \"multi_index\", \"substrings\": 4}");
        createCodecIndex("flat", "{\"type\": \"flat\"}");
        assertThat(mappingOf("mih"), containsString("index_options={type=multi_index}"));
        assertThat(mappingOf("mih4"), containsString("index_options={type=multi_index, substrings=4}"));
        assertThat(mappingOf("flat"), containsString("h={type=binary_hash, bits=64}"));
        String[][] bad = {
            { "{\"type\": \"hnsw\"}", "[index_options.type] on field [h] must be [flat] or [multi_index] but was [hnsw]" },
            { "{\"type\": \"multi_index\", \"substrings\": 1}", "[index_options.substrings] on field [h] must be from 2 to 64" },
            { "{\"type\": \"multi_index\", \"substrings\": 65}", "must be from 2 to 64 for codes of 64 bits" },
            { "{\"type\": \"multi_index\", \"substrings\": 2.5}", "must be a whole number of substrings" },
            { "{\"type\": \"multi_index\", \"tables\": 2}", "does not support [tables]" },
            { "{\"type\": \"flat\", \"substrings\": 2}", "[substrings] goes with [type] [multi_index]" },
            { "\"multi_index\"", "must be an object like" } };
        for (String[] c : bad) {
            Exception e = expectThrows(Exception.class, () -> createCodecIndex("bad", c[0]));
            assertThat(c[0], ExceptionsHelper.unwrapCause(e).getMessage() + " " + e.getCause(), containsString(c[1]));
            assertThat(c[0], ExceptionsHelper.status(e), equalTo(RestStatus.BAD_REQUEST));
        }
        // The tables live in the plugin's format: without it, the mapping is refused with what to do.
        Exception e = expectThrows(Exception.class, () -> createHashIndex("nocodec", ", \"index_options\": {\"type\": \"multi_index\"}"));
        assertThat(ExceptionsHelper.unwrapCause(e).getMessage() + " " + e.getCause(), containsString("needs the index setting [index.deep_hash.codec: true]"));
        assertThat(ExceptionsHelper.status(e), equalTo(RestStatus.BAD_REQUEST));
    }

    /** index_options can change: segments written afterwards follow it, older ones until a merge rewrites them. */
    public void testIndexOptionsUpdateAppliesToNewSegments() {
        createCodecIndex("upd", "");
        HashCode old = indexRandomCodes("upd", 0, 100);
        client().admin().indices().preparePutMapping("upd").setSource("""
            {"properties": {"h": {"type": "binary_hash", "bits": 64, "index_options": {"type": "multi_index"}}}}""", XContentType.JSON).get();
        assertThat(mappingOf("upd"), containsString("index_options={type=multi_index}"));
        HashCode fresh = indexRandomCodes("upd", 100, 200);
        assertThat(explainOfTop("upd", old), containsString("scan: no multi-index tables in this segment"));
        assertThat(explainOfTop("upd", fresh), containsString("multi_index:"));
        client().admin().indices().prepareForceMerge("upd").setMaxNumSegments(1).get();
        client().admin().indices().prepareRefresh("upd").get();
        assertThat(explainOfTop("upd", old), containsString("multi_index:"));
        assertThat(explainOfTop("upd", fresh), containsString("multi_index:"));
    }

    /** Indexes documents {@code from..to} with random codes, in a segment of their own; returns one of the codes. */
    private HashCode indexRandomCodes(String index, int from, int to) {
        HashCode some = null;
        for (int i = from; i < to; i++) {
            HashCode code = HashCode.ofBytes(HammingOracle.randomCode(random(), 64));
            some = some == null ? code : some;
            index(index, Integer.toString(i), "{\"h\": \"" + code.toHex() + "\"}");
        }
        client().admin().indices().prepareRefresh(index).get();
        client().admin().indices().prepareFlush(index).get();
        return some;
    }

    private String mappingOf(String index) {
        return TestCompat.mapping(client(), index).toString();
    }

    private String explainOfTop(String index, HashCode query) {
        HammingQueryBuilder hamming = new HammingQueryBuilder("h", query, 2).strategy(org.deephash.hamming.SearchStrategy.INDEX);
        String[] explanation = new String[1];
        assertResponse(client().prepareSearch(index).setQuery(hamming).setExplain(true).setSize(1), r -> {
            assertThat(r.getHits().getHits().length, equalTo(1));
            explanation[0] = r.getHits().getAt(0).getExplanation().toString();
        });
        return explanation[0];
    }
}
