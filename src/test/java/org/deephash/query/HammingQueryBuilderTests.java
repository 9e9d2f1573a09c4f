package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.deephash.DeepHashPlugin;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HashCode;
import org.elasticsearch.common.ParsingException;
import org.elasticsearch.common.compress.CompressedXContent;
import org.elasticsearch.index.mapper.MapperService;
import org.elasticsearch.index.query.QueryShardException;
import org.elasticsearch.index.query.SearchExecutionContext;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.test.AbstractQueryTestCase;

import java.io.IOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.instanceOf;

/**
 * The {@code hamming} query builder through Elasticsearch's own query-builder test harness: parsing
 * with shuffled and unknown fields, serialization, equality, rewriting and the Lucene query it builds.
 */
public class HammingQueryBuilderTests extends AbstractQueryTestCase<HammingQueryBuilder> {

    private static final Map<String, Integer> HASH_FIELDS = Map.of("hash64", 64, "hash256", 256, "hash72", 72, "hash8", 8);

    @Override
    protected Collection<Class<? extends Plugin>> getPlugins() {
        return List.of(DeepHashPlugin.class);
    }

    @Override
    protected void initializeAdditionalMappings(MapperService mapperService) throws IOException {
        StringBuilder properties = new StringBuilder();
        HASH_FIELDS.forEach((name, bits) -> {
            if (properties.length() > 0) {
                properties.append(',');
            }
            properties.append("\"").append(name).append("\": {\"type\": \"binary_hash\", \"bits\": ").append(bits).append('}');
        });
        mapperService.merge(
            "_doc",
            new CompressedXContent("{\"properties\": {" + properties + "}}"),
            MapperService.MergeReason.MAPPING_UPDATE
        );
    }

    @Override
    protected HammingQueryBuilder doCreateTestQueryBuilder() {
        String field = randomFrom(HASH_FIELDS.keySet());
        int bits = HASH_FIELDS.get(field);
        HashCode code = HashCode.ofBytes(HammingOracle.randomCode(random(), bits));
        Integer maxDistance = randomBoolean() ? null : between(0, bits);
        return new HammingQueryBuilder(field, code, maxDistance).ignoreUnmapped(randomBoolean());
    }

    @Override
    protected void doAssertLuceneQuery(HammingQueryBuilder builder, Query query, SearchExecutionContext context) {
        assertThat(query, instanceOf(HammingQuery.class));
        HammingQuery hamming = (HammingQuery) query;
        assertThat(hamming.field(), equalTo(builder.field()));
        assertThat(hamming.code(), equalTo(builder.code()));
        int bits = HASH_FIELDS.get(builder.field());
        assertThat(hamming.maxDistance(), equalTo(builder.maxDistance() == null ? bits : builder.maxDistance()));
    }

    public void testParsesHexAndBitArrays() throws IOException {
        HammingQueryBuilder hex = (HammingQueryBuilder) parseQuery("""
            {"hamming": {"field": "hash8", "code": "A0", "max_distance": 2, "boost": 2.5, "_name": "q", "ignore_unmapped": true}}""");
        HammingQueryBuilder bits = (HammingQueryBuilder) parseQuery("""
            {"hamming": {"code": [1, 0, 1, 0, 0, 0, 0, 0], "field": "hash8", "max_distance": 2, "boost": 2.5, "_name": "q", "ignore_unmapped": true}}""");
        assertEquals(hex, bits);
        assertThat(hex.code().toHex(), equalTo("a0"));
        assertThat(hex.maxDistance(), equalTo(2));
        assertThat(hex.boost(), equalTo(2.5f));
        assertThat(hex.queryName(), equalTo("q"));
        assertTrue(hex.ignoreUnmapped());
    }

    public void testParseErrorsNameTheProblem() {
        String[][] cases = {
            { "{\"hamming\": {\"code\": \"00\"}}", "needs a [field]" },
            { "{\"hamming\": {\"field\": \"hash8\"}}", "query on field [hash8] needs a [code]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"0g\"}}", "query on field [hash8]: [code] expected hex characters [0-9a-fA-F] but found [g]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"000\"}}", "[code] expected an even number of hex characters" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": [1, 0, 3, 0, 0, 0, 0, 0]}}", "expected 0 or 1 at position 2" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": [\"1\"]}}", "[code] arrays hold only 0/1 numbers" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"max_distance\": 9}}", "[max_distance] must be between 0 and the code's 8 bits but was [9]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"max_distance\": -1}}", "but was [-1]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"max_distance\": 1.5}}", "on field [hash8]: [max_distance] must be a whole number of bits but was [1.5]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"radius\": 1}}", "[hamming] query does not support [radius]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": {\"a\": 1}}}", "[code] must be a hex string or an array" },
        };
        for (String[] c : cases) {
            ParsingException e = expectThrows(ParsingException.class, () -> parseQuery(c[0]));
            assertThat(c[0], e.getMessage(), containsString(c[1]));
        }
    }

    public void testMaxDistanceAsString() throws IOException {
        HammingQueryBuilder q = (HammingQueryBuilder) parseQuery("{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"max_distance\": \"2\"}}");
        assertThat(q.maxDistance(), equalTo(2));
    }

    public void testWrongWidthAndTypeAndUnmappedFail() throws IOException {
        SearchExecutionContext context = createSearchExecutionContext();
        QueryShardException e = expectThrows(
            QueryShardException.class,
            () -> new HammingQueryBuilder("hash64", HashCode.fromHex("00"), null).toQuery(context)
        );
        assertThat(e.getMessage(), containsString("field [hash64] holds codes of [64] bits (16 hex characters) but [code] has [8] bits"));
        e = expectThrows(QueryShardException.class, () -> new HammingQueryBuilder(TEXT_FIELD_NAME, HashCode.fromHex("00"), null).toQuery(context));
        assertThat(e.getMessage(), containsString("is of type [text] but the query needs a field of type [binary_hash]"));
        e = expectThrows(QueryShardException.class, () -> new HammingQueryBuilder("missing", HashCode.fromHex("00"), null).toQuery(context));
        assertThat(e.getMessage(), containsString("field [missing] is not mapped"));
        Query none = new HammingQueryBuilder("missing", HashCode.fromHex("00"), null).ignoreUnmapped(true).toQuery(context);
        assertThat(none, instanceOf(MatchNoDocsQuery.class));
    }
}
