package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.deephash.DeepHashPlugin;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.RerankQuery;
import org.elasticsearch.common.ParsingException;
import org.elasticsearch.common.Strings;
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
        properties.append(",\"vec\": {\"type\": \"dense_vector\", \"dims\": 4, \"index\": true, \"similarity\": \"l2_norm\"}");
        properties.append(",\"vec_stored\": {\"type\": \"dense_vector\", \"dims\": 4, \"index\": false}");
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
        HammingQueryBuilder builder = new HammingQueryBuilder(field, code, maxDistance).ignoreUnmapped(randomBoolean());
        if (randomBoolean()) {
            float[] vector = { randomFloat(), randomFloat(), randomFloat(), randomFloat() };
            builder.rerank(new HammingQueryBuilder.Rerank(randomFrom("vec", "vec_stored"), between(1, 1000), vector));
        }
        return builder;
    }

    public void testTextAndImageQueriesRoundTrip() throws IOException {
        HammingQueryBuilder byText = new HammingQueryBuilder("hash64", "grinning face", null, null, 3);
        byText.rerank(new HammingQueryBuilder.Rerank("vec", 50, null));
        HammingQueryBuilder parsed = (HammingQueryBuilder) parseQuery(Strings.toString(byText));
        assertEquals(byText, parsed);
        assertEquals("default", parsed.model());
        HammingQueryBuilder byImage = new HammingQueryBuilder("hash64", null, "iVBORw0KGgo=", "mine", null);
        assertEquals(byImage, copyQuery(byImage));
        assertEquals(byImage, parseQuery(Strings.toString(byImage)));
    }

    /**
     * A query reads [text] and [image] as the deep_hash processor reads a document's caption and picture:
     * an array of strings is the caption joined with ", ", and a blank value or another type is a 400
     * naming the parameter, not a code that ranks everything.
     */
    public void testTextAndImageAreReadAsTheProcessorReadsThem() throws IOException {
        HammingQueryBuilder joined = (HammingQueryBuilder) parseQuery("{\"hamming\": {\"field\": \"hash64\", \"text\": [\"red\", \" \", \"apple\"]}}");
        assertEquals("red, apple", joined.text());
        Map<String, String> refused = Map.of(
            "\"text\": \"\"", "[hamming] query on field [hash64]: [text] is empty: expected a caption or keywords to hash",
            "\"text\": \"  \"", "[hamming] query on field [hash64]: [text] is empty: expected a caption or keywords to hash",
            "\"text\": [\" \"]", "[hamming] query on field [hash64]: [text] is empty: expected a caption or keywords to hash",
            "\"text\": 42", "[hamming] query: [text] is a number [42]: expected a string or an array of strings",
            "\"text\": true", "[hamming] query: [text] is a boolean [true]: expected a string or an array of strings",
            "\"text\": {\"a\": 1}", "[hamming] query: [text] is an object: expected a string or an array of strings",
            "\"text\": [\"red\", 7]", "[hamming] query: [text] has a number [7] in its array: expected strings",
            "\"image\": 42", "[hamming] query: [image] is a number [42]: expected a string of base64 image bytes",
            "\"image\": [\"iVBOR\"]", "[hamming] query: [image] is an array: expected a string of base64 image bytes",
            "\"image\": \"\"", "[hamming] query on field [hash64]: [image] is empty: expected the base64 bytes of a picture to hash"
        );
        for (Map.Entry<String, String> e : refused.entrySet()) {
            ParsingException thrown = expectThrows(
                ParsingException.class,
                () -> parseQuery("{\"hamming\": {\"field\": \"hash64\", " + e.getKey() + "}}")
            );
            assertEquals(e.getKey(), e.getValue(), thrown.getMessage());
        }
        expectThrows(IllegalArgumentException.class, () -> new HammingQueryBuilder("hash64", " ", null, null, null));
    }

    public void testTextImageAndCodeAreExclusive() {
        ParsingException e = expectThrows(
            ParsingException.class,
            () -> parseQuery("{\"hamming\": {\"field\": \"hash64\", \"code\": \"00\", \"text\": \"x\"}}")
        );
        assertThat(e.getMessage(), containsString("takes either a [code] or a [text] and/or [image] with a [model], not both"));
        e = expectThrows(ParsingException.class, () -> parseQuery("{\"hamming\": {\"field\": \"hash64\"}}"));
        assertThat(e.getMessage(), containsString("needs a [code] (hex or an array of 0/1 values), a [text] or an [image] (base64)"));
        e = expectThrows(ParsingException.class, () -> parseQuery("{\"hamming\": {\"field\": \"hash64\", \"text\": \"x\", \"model\": \"../x\"}}"));
        assertThat(e.getMessage(), containsString("invalid model name [../x]"));
        e = expectThrows(
            ParsingException.class,
            () -> parseQuery("{\"hamming\": {\"field\": \"hash64\", \"text\": \"x\", \"rerank\": {\"field\": \"vec\", \"window\": 0}}}")
        );
        assertThat(e.getMessage(), containsString("[rerank.window] must be from 1 to 10000 but was [0]"));
    }

    public void testRerankNeedsAFloatVectorField() throws IOException {
        SearchExecutionContext context = createSearchExecutionContext();
        HammingQueryBuilder noVector = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        noVector.rerank(new HammingQueryBuilder.Rerank("vec", 10, null));
        QueryShardException e = expectThrows(QueryShardException.class, () -> noVector.toQuery(context));
        assertThat(e.getMessage(), containsString("[rerank] needs a query vector"));
        HammingQueryBuilder notVector = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        notVector.rerank(new HammingQueryBuilder.Rerank("hash8", 10, new float[] { 1, 2, 3, 4 }));
        e = expectThrows(QueryShardException.class, () -> notVector.toQuery(context));
        assertThat(e.getMessage(), containsString("[rerank.field] [hash8] is of type [binary_hash]: expected a [dense_vector] field"));
        HammingQueryBuilder wrongDims = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        wrongDims.rerank(new HammingQueryBuilder.Rerank("vec", 10, new float[] { 1, 2, 3 }));
        e = expectThrows(QueryShardException.class, () -> wrongDims.toQuery(context));
        assertThat(e.getMessage(), containsString("cannot re-rank by [vec]"));
    }

    @Override
    protected void doAssertLuceneQuery(HammingQueryBuilder builder, Query query, SearchExecutionContext context) {
        if (builder.rerank() != null) {
            assertThat(query, instanceOf(RerankQuery.class));
            assertEquals(builder.rerank().window(), ((RerankQuery) query).window());
            query = ((RerankQuery) query).coarse();
        }
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
