package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.deephash.DeepHashPlugin;
import org.deephash.hamming.HammingOracle;
import org.deephash.hamming.CostModel;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HammingTopKQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.RerankQuery;
import org.deephash.hamming.SearchStrategy;
import org.deephash.model.HashModel;
import org.deephash.model.HashOutput;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.client.internal.Client;
import org.elasticsearch.common.ParsingException;
import org.elasticsearch.common.Strings;
import org.elasticsearch.common.compress.CompressedXContent;
import org.elasticsearch.index.mapper.MapperService;
import org.elasticsearch.index.query.QueryShardException;
import org.elasticsearch.index.query.SearchExecutionContext;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.test.AbstractQueryTestCase;
import org.junit.AfterClass;
import org.junit.BeforeClass;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.either;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.not;

/**
 * The {@code hamming} query builder through Elasticsearch's own query-builder test harness: parsing
 * with shuffled and unknown fields, serialization, equality, rewriting and the Lucene query it builds.
 * A query by text is hashed at rewrite by the bundled model, standing in for the node's service.
 */
public class HammingQueryBuilderTests extends AbstractQueryTestCase<HammingQueryBuilder> {

    private static final Map<String, Integer> HASH_FIELDS = Map.of("hash64", 64, "hash256", 256, "hash72", 72, "hash8", 8);

    private static HashModel model;

    @BeforeClass
    public static void loadModel() {
        model = HashModel.load(Path.of("target/models/default"));
    }

    @AfterClass
    public static void closeModel() {
        model.close();
        model = null;
    }

    /** The rewrite's {@link QueryHashAction}, answered with the bundled model's output for the query's text. */
    @Override
    protected boolean canSimulateMethod(Method method, Object[] args) throws NoSuchMethodException {
        return method.equals(Client.class.getMethod("execute", ActionType.class, ActionRequest.class, ActionListener.class))
            && args[0] == QueryHashAction.INSTANCE;
    }

    @Override
    protected Object simulateMethod(Method method, Object[] args) {
        QueryHashAction.Request request = (QueryHashAction.Request) args[1];
        @SuppressWarnings("unchecked")  // canSimulateMethod matched the action
        ActionListener<QueryHashAction.Response> listener = (ActionListener<QueryHashAction.Response>) args[2];
        listener.onResponse(new QueryHashAction.Response(model.hashTexts(List.of(request.text())).get(0)));
        return null;
    }

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
            builder.rerank(new Rerank(randomFrom("vec", "vec_stored"), between(1, Rerank.MAX_WINDOW), vector));
        }
        if (randomBoolean()) {
            builder.k(between(1, HammingQueryBuilder.MAX_K));
        }
        return builder.strategy(randomFrom(SearchStrategy.values()));
    }

    public void testTextAndImageQueriesRoundTrip() throws IOException {
        HammingQueryBuilder byText = new HammingQueryBuilder("hash64", "grinning face", null, null, 3);
        byText.rerank(new Rerank("vec", 50, null)).k(between(1, 100)).strategy(randomFrom(SearchStrategy.values()));
        HammingQueryBuilder parsed = (HammingQueryBuilder) parseQuery(Strings.toString(byText));
        assertEquals(byText, parsed);
        assertEquals("default", parsed.model());
        HammingQueryBuilder byImage = new HammingQueryBuilder("hash64", null, "iVBORw0KGgo=", "mine", null);
        assertEquals(byImage, copyQuery(byImage));
        assertEquals(byImage, parseQuery(Strings.toString(byImage)));
    }

    /**
     * A query by text becomes a query by the model's code at rewrite, with every option it had, and the
     * model's embedding to re-rank by.
     */
    public void testRewriteByTextKeepsEveryOption() {
        String text = randomFrom("grinning face", "hot drink", "red apple");
        Integer maxDistance = randomBoolean() ? null : between(0, 64);
        HammingQueryBuilder byText = new HammingQueryBuilder("hash64", text, null, null, maxDistance).ignoreUnmapped(randomBoolean())
            .rerank(new Rerank("vec", between(1, 100), null))
            .k(randomBoolean() ? null : between(1, HammingQueryBuilder.MAX_K))
            .strategy(randomFrom(SearchStrategy.values()))
            .boost(randomFloatBetween(0.5f, 3f, true))
            .queryName(randomAlphaOfLength(5));
        HashOutput expected = model.hashTexts(List.of(text)).get(0);
        HammingQueryBuilder rewritten = (HammingQueryBuilder) rewriteAndFetch(byText, createQueryRewriteContext());
        assertEquals(HashCode.ofBytes(expected.code()), rewritten.code());
        assertNull(rewritten.text());
        assertEquals(new Rerank("vec", byText.rerank().window(), expected.embedding()), rewritten.rerank());
        assertEquals(maxDistance, rewritten.maxDistance());
        assertEquals(byText.ignoreUnmapped(), rewritten.ignoreUnmapped());
        assertEquals(byText.k(), rewritten.k());
        assertEquals(byText.strategy(), rewritten.strategy());
        assertEquals(byText.boost(), rewritten.boost(), 0f);
        assertEquals(byText.queryName(), rewritten.queryName());
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
        e = expectThrows(ParsingException.class, () -> parseQuery("{\"hamming\": {\"field\": \"hash64\", \"code\": \"00\", \"model\": \"x\"}}"));
        assertThat(e.getMessage(), containsString("takes either a [code] or a [text] and/or [image] with a [model], not both"));
    }

    /**
     * Each rule on what a query is made of lives in one place, the constructor or a setter, which a query made
     * in Java and a query parsed from JSON both go through: the same message either way.
     */
    public void testJavaAndJsonBreakEachRuleWithTheSameMessage() {
        record Rule(String json, ThrowingRunnable java, String message) {}
        HashCode code = HashCode.fromHex("00");
        List<Rule> rules = List.of(
            new Rule("{\"code\": \"00\"}", () -> new HammingQueryBuilder(null, code, null),
                "[hamming] query needs a [field]: the binary_hash field to search"),
            new Rule("{\"field\": \"hash8\"}", () -> new HammingQueryBuilder("hash8", null, null, null, null),
                "[hamming] query on field [hash8] needs a [code] (hex or an array of 0/1 values), a [text] or an [image] (base64)"),
            new Rule("{\"field\": \"hash8\", \"code\": \"00\", \"max_distance\": 9}", () -> new HammingQueryBuilder("hash8", code, 9),
                "[hamming] query on field [hash8]: [max_distance] must be between 0 and the code's 8 bits but was [9]"),
            new Rule("{\"field\": \"hash8\", \"text\": \" \"}", () -> new HammingQueryBuilder("hash8", " ", null, null, null),
                "[hamming] query on field [hash8]: [text] is empty: expected a caption or keywords to hash"),
            new Rule("{\"field\": \"hash8\", \"image\": \"\"}", () -> new HammingQueryBuilder("hash8", null, "", null, null),
                "[hamming] query on field [hash8]: [image] is empty: expected the base64 bytes of a picture to hash"),
            new Rule("{\"field\": \"hash8\", \"text\": \"x\", \"model\": \"A\"}", () -> new HammingQueryBuilder("hash8", "x", null, "A", null),
                "[hamming] query on field [hash8]: [model] invalid model name [A]: expected 1 to 64 lower-case letters, digits, '_' or '-', "
                    + "starting with a letter or digit"),
            new Rule("{\"field\": \"hash8\", \"code\": \"00\", \"k\": 0}", () -> new HammingQueryBuilder("hash8", code, null).k(0),
                "[hamming] query on field [hash8]: [k] must be from 1 to 10000 but was [0]"),
            new Rule("{\"field\": \"hash8\", \"code\": \"00\", \"k\": 10001}", () -> new HammingQueryBuilder("hash8", code, null).k(10001),
                "[hamming] query on field [hash8]: [k] must be from 1 to 10000 but was [10001]"),
            new Rule("{\"field\": \"hash8\", \"code\": \"00\", \"rerank\": {\"window\": 5}}", () -> new Rerank(null, 5, null),
                "[hamming] query: [rerank] needs a [field]: the dense_vector field to re-rank by"),
            new Rule("{\"field\": \"hash8\", \"code\": \"00\", \"rerank\": {\"field\": \"vec\", \"window\": 10001}}",
                () -> new Rerank("vec", 10001, null), "[hamming] query: [rerank.window] must be from 1 to 10000 but was [10001]")
        );
        for (Rule rule : rules) {
            IllegalArgumentException fromJava = expectThrows(IllegalArgumentException.class, rule.java());
            assertEquals(rule.json(), rule.message(), fromJava.getMessage());
            ParsingException fromJson = expectThrows(ParsingException.class, () -> parseQuery("{\"hamming\": " + rule.json() + "}"));
            assertEquals(rule.json(), rule.message(), fromJson.getMessage());
        }
    }

    public void testKAndStrategy() throws IOException {
        HammingQueryBuilder defaults = (HammingQueryBuilder) parseQuery("{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\"}}");
        assertNull(defaults.k());
        assertEquals(SearchStrategy.AUTO, defaults.strategy());
        assertThat(Strings.toString(defaults), not(either(containsString("\"k\"")).or(containsString("\"strategy\""))));
        for (SearchStrategy strategy : SearchStrategy.values()) {
            HammingQueryBuilder q = (HammingQueryBuilder) parseQuery(
                "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"k\": \"25\", \"strategy\": \"" + strategy.jsonName() + "\"}}"
            );
            assertEquals(Integer.valueOf(25), q.k());
            assertEquals(strategy, q.strategy());
            assertEquals(strategy != SearchStrategy.AUTO, Strings.toString(q).contains("\"strategy\":\"" + strategy.jsonName() + "\""));
        }
        Map<String, String> refused = Map.of(
            "\"k\": 1.5", "[hamming] query on field [hash8]: [k] must be a whole number but was [1.5]",
            "\"k\": \"ten\"", "[hamming] query on field [hash8]: [k] must be a whole number but was [ten]",
            "\"strategy\": \"fast\"", "[hamming] query on field [hash8]: [strategy] must be one of [auto], [scan], [index] but was [fast]",
            "\"strategy\": \"SCAN\"", "[hamming] query on field [hash8]: [strategy] must be one of [auto], [scan], [index] but was [SCAN]"
        );
        for (Map.Entry<String, String> e : refused.entrySet()) {
            ParsingException thrown = expectThrows(
                ParsingException.class,
                () -> parseQuery("{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", " + e.getKey() + "}}")
            );
            assertEquals(e.getKey(), e.getValue(), thrown.getMessage());
        }
    }

    public void testRerankNeedsAFloatVectorField() throws IOException {
        SearchExecutionContext context = createSearchExecutionContext();
        HammingQueryBuilder noVector = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        noVector.rerank(new Rerank("vec", 10, null));
        QueryShardException e = expectThrows(QueryShardException.class, () -> noVector.toQuery(context));
        assertThat(e.getMessage(), containsString("[rerank] needs a query vector"));
        HammingQueryBuilder notVector = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        notVector.rerank(new Rerank("hash8", 10, new float[] { 1, 2, 3, 4 }));
        e = expectThrows(QueryShardException.class, () -> notVector.toQuery(context));
        assertThat(e.getMessage(), containsString("[rerank.field] [hash8] is of type [binary_hash]: expected a [dense_vector] field"));
        HammingQueryBuilder wrongDims = new HammingQueryBuilder("hash64", HashCode.fromHex("0011223344556677"), null);
        wrongDims.rerank(new Rerank("vec", 10, new float[] { 1, 2, 3 }));
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
        int bits = HASH_FIELDS.get(builder.field());
        int radius = builder.maxDistance() == null ? bits : builder.maxDistance();
        if (builder.rerank() != null || builder.k() != null) {
            // A re-rank's coarse stage finds the window's nearest (k's if fewer) as a top-k does.
            int k = builder.rerank() == null ? builder.k()
                : builder.k() == null ? builder.rerank().window()
                : Math.min(builder.k(), builder.rerank().window());
            assertThat(query, equalTo(new HammingTopKQuery(builder.field(), builder.code(), radius, k, builder.strategy(), CostModel.DEFAULT)));
        } else {
            assertThat(query, equalTo(new HammingQuery(builder.field(), builder.code(), radius, builder.strategy(), CostModel.DEFAULT)));
        }
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
            { "{\"hamming\": {\"max_distance\": \"two\", \"field\": \"hash8\", \"code\": \"00\"}}", "on field [hash8]: [max_distance] must be a whole number of bits but was [two]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"radius\": 1}}", "[hamming] unknown field [radius]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": {\"a\": 1}}}", "[code] must be a hex string or an array" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": null}}", "[code] must be a hex string or an array of 0/1 values but was [VALUE_NULL]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"rerank\": \"vec\"}}", "[hamming] query: [rerank] must be an object like" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"rerank\": {\"field\": \"vec\", \"size\": 3}}}", "[rerank] unknown field [size]" },
            { "{\"hamming\": {\"field\": \"hash8\", \"code\": \"00\", \"rerank\": {\"field\": \"vec\", \"vector\": [1, \"a\"]}}}",
                "[hamming] query: [rerank.vector] must be an array of numbers but found [VALUE_STRING]" },
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
