package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.SetOnce;
import org.deephash.compat.DenseVectors;
import org.deephash.hamming.CostModel;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HammingTopKQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.RerankQuery;
import org.deephash.hamming.SearchStrategy;
import org.deephash.mapper.BinaryHashFieldMapper.BinaryHashFieldType;
import org.deephash.model.HashInput;
import org.deephash.model.HashOutput;
import org.deephash.model.InputException;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.TransportVersion;
import org.elasticsearch.common.ParsingException;
import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.core.Nullable;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.index.mapper.vectors.DenseVectorFieldMapper;
import org.elasticsearch.index.query.AbstractQueryBuilder;
import org.elasticsearch.index.query.QueryBuilder;
import org.elasticsearch.index.query.QueryRewriteContext;
import org.elasticsearch.index.query.QueryShardException;
import org.elasticsearch.index.query.SearchExecutionContext;
import org.elasticsearch.xcontent.ConstructingObjectParser;
import org.elasticsearch.xcontent.ObjectParser.ValueType;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentLocation;
import org.elasticsearch.xcontent.XContentParseException;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

import static org.elasticsearch.xcontent.ConstructingObjectParser.optionalConstructorArg;

/**
 * The {@code hamming} query: documents ranked by the Hamming distance between their
 * {@code binary_hash} code and a query code, optionally only those within {@code max_distance}.
 *
 * <p>Where each rule lives: the constructor checks what the query is made of (a field, a code or
 * inputs to hash but not both, no blank input, a valid model name, {@code max_distance} within the
 * code's width) for every path, Java or JSON; the setters check their own option ({@code k}); the parser
 * checks only what JSON can get wrong (a value's type, {@code 1.5} for a whole number, a hex string).
 */
public final class HammingQueryBuilder extends AbstractQueryBuilder<HammingQueryBuilder> {
    public static final String NAME = "hamming";
    public static final int MAX_K = 10_000;

    static final ParseField FIELD = new ParseField("field");
    static final ParseField CODE = new ParseField("code");
    static final ParseField TEXT = new ParseField("text");
    static final ParseField IMAGE = new ParseField("image");
    static final ParseField MODEL = new ParseField("model");
    static final ParseField MAX_DISTANCE = new ParseField("max_distance");
    static final ParseField IGNORE_UNMAPPED = new ParseField("ignore_unmapped");
    static final ParseField RERANK = new ParseField("rerank");
    static final ParseField K = new ParseField("k");
    static final ParseField STRATEGY = new ParseField("strategy");

    // Every parameter is optional to the parser, so that a missing one gets the constructor's message. The values
    // whose errors name the field (a hex code, a whole number, a strategy) are read once the field is known: in the
    // function that builds the query, and in the consumers of the other options, which run on the built query.
    private static final ConstructingObjectParser<HammingQueryBuilder, Void> PARSER = new ConstructingObjectParser<>(
        NAME,
        a -> {
            String field = (String) a[0];
            HashCode code = convert(field, CODE, a[1], HammingQueryBuilder::code);
            Integer maxDistance = convert(field, MAX_DISTANCE, (String) a[5], s -> wholeNumber(s, "a whole number of bits"));
            return new HammingQueryBuilder(field, code, (String) a[2], (String) a[3], (String) a[4], maxDistance, null);
        }
    );

    static {
        PARSER.declareString(optionalConstructorArg(), FIELD);
        PARSER.declareField(optionalConstructorArg(), (p, c) -> parseCode(p), CODE, ValueType.VALUE_OBJECT_ARRAY);
        // [text] and [image] are read as the deep_hash processor reads a document's caption and picture, so
        // each accepts and refuses the same values; a number, an object or a boolean is refused.
        PARSER.declareField(
            optionalConstructorArg(),
            (p, c) -> HashInput.caption(anyValue(p), where(null) + ": [" + TEXT.getPreferredName() + "]"),
            TEXT,
            ValueType.VALUE_OBJECT_ARRAY
        );
        PARSER.declareField(
            optionalConstructorArg(),
            (p, c) -> HashInput.imageValue(anyValue(p), where(null) + ": [" + IMAGE.getPreferredName() + "]"),
            IMAGE,
            ValueType.VALUE_OBJECT_ARRAY
        );
        PARSER.declareString(optionalConstructorArg(), MODEL);
        PARSER.declareField(optionalConstructorArg(), (p, c) -> p.text(), MAX_DISTANCE, ValueType.INT);
        PARSER.declareBoolean(HammingQueryBuilder::ignoreUnmapped, IGNORE_UNMAPPED);
        PARSER.declareField(HammingQueryBuilder::rerank, (p, c) -> Rerank.fromXContent(p), RERANK, ValueType.VALUE_OBJECT_ARRAY);
        PARSER.declareField(
            (b, s) -> b.k(convert(b.field, K, s, v -> wholeNumber(v, "a whole number"))),
            (p, c) -> p.text(),
            K,
            ValueType.INT
        );
        PARSER.declareString((b, s) -> b.strategy(convert(b.field, STRATEGY, s, SearchStrategy::parse)), STRATEGY);
        declareStandardFields(PARSER);
    }

    private final String field;
    private final HashCode code;
    private final String text;
    private final String image;
    private final String model;
    private final Integer maxDistance;
    private boolean ignoreUnmapped = false;
    private Rerank rerank;
    private Integer k;
    private SearchStrategy strategy = SearchStrategy.AUTO;
    /** The query's hash, once the rewrite's asynchronous inference is done. */
    private final Supplier<HashOutput> hashed;
    /**
     * The model whose code a query by text or image became at rewrite, so that a shard can say which
     * model's width does not fit the field; sent to the shards, not part of the query's JSON or equality.
     */
    private String hashedBy;

    public HammingQueryBuilder(String field, HashCode code, @Nullable Integer maxDistance) {
        this(field, code, null, null, null, maxDistance, null);
    }

    /**
     * A query by {@code text}, {@code image} (base64) or both (the fused code), hashed with
     * {@code model} on the coordinating node when the query is rewritten.
     */
    public HammingQueryBuilder(
        String field,
        @Nullable String text,
        @Nullable String image,
        @Nullable String model,
        @Nullable Integer maxDistance
    ) {
        this(field, null, text, image, model, maxDistance, null);
    }

    private HammingQueryBuilder(
        String field,
        HashCode code,
        String text,
        String image,
        String model,
        Integer maxDistance,
        Supplier<HashOutput> hashed
    ) {
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException("[" + NAME + "] query needs a [field]: the binary_hash field to search");
        }
        this.field = field;
        if (code == null && text == null && image == null) {
            throw new IllegalArgumentException(
                where(field) + " needs a [code] (hex or an array of 0/1 values), a [text] or an [image] (base64)"
            );
        }
        if (code != null && (text != null || image != null || model != null)) {
            throw new IllegalArgumentException(
                where(field) + " takes either a [code] or a [text] and/or [image] with a [model], not both"
            );
        }
        // Blank inputs are refused here as the deep_hash processor refuses a document's blank caption or picture:
        // an empty text would otherwise hash to some code and rank every document.
        if (text != null && text.isBlank()) {
            throw new InputException(
                InputException.Kind.MISSING_INPUT,
                where(field) + ": [text] is empty: expected a caption or keywords to hash"
            );
        }
        if (image != null && image.isBlank()) {
            throw new InputException(
                InputException.Kind.EMPTY_IMAGE,
                where(field) + ": [image] is empty: expected the base64 bytes of a picture to hash"
            );
        }
        if (model != null) {
            try {
                ModelRegistry.checkName(model);
            } catch (InputException e) {
                throw e.withPrefix(where(field) + ": [model] ");
            }
        }
        this.code = code;
        this.text = text;
        this.image = image;
        this.model = code == null ? (model == null ? ModelRegistry.DEFAULT_MODEL : model) : null;
        int limit = code == null ? HashCode.MAX_BITS : code.bits();
        if (maxDistance != null && (maxDistance < 0 || maxDistance > limit)) {
            throw new IllegalArgumentException(
                where(field) + ": [max_distance] must be between 0 and the code's " + limit + " bits but was [" + maxDistance + "]"
            );
        }
        this.maxDistance = maxDistance;
        this.hashed = hashed;
    }

    public HammingQueryBuilder(StreamInput in) throws IOException {
        super(in);
        field = in.readString();
        byte[] bytes = in.readOptionalByteArray();
        code = bytes == null ? null : HashCode.ofBytes(bytes);
        text = in.readOptionalString();
        image = in.readOptionalString();
        model = in.readOptionalString();
        maxDistance = in.readOptionalVInt();
        ignoreUnmapped = in.readBoolean();
        rerank = in.readOptionalWriteable(Rerank::new);
        k = in.readOptionalVInt();
        strategy = in.readEnum(SearchStrategy.class);
        this.hashed = null;
        this.hashedBy = in.readOptionalString();
    }

    @Override
    protected void doWriteTo(StreamOutput out) throws IOException {
        if (hashed != null) {
            throw new IllegalStateException("[" + NAME + "] query: the query's hash is still being computed; rewrite the query before sending it");
        }
        out.writeString(field);
        out.writeOptionalByteArray(code == null ? null : code.bytes());
        out.writeOptionalString(text);
        out.writeOptionalString(image);
        out.writeOptionalString(model);
        out.writeOptionalVInt(maxDistance);
        out.writeBoolean(ignoreUnmapped);
        out.writeOptionalWriteable(rerank);
        out.writeOptionalVInt(k);
        out.writeEnum(strategy);
        out.writeOptionalString(hashedBy);
    }

    public String field() {
        return field;
    }

    public HashCode code() {
        return code;
    }

    public String text() {
        return text;
    }

    public String image() {
        return image;
    }

    public String model() {
        return model;
    }

    public Integer maxDistance() {
        return maxDistance;
    }

    public HammingQueryBuilder ignoreUnmapped(boolean ignoreUnmapped) {
        this.ignoreUnmapped = ignoreUnmapped;
        return this;
    }

    public boolean ignoreUnmapped() {
        return ignoreUnmapped;
    }

    public HammingQueryBuilder rerank(@Nullable Rerank rerank) {
        this.rerank = rerank;
        return this;
    }

    public Rerank rerank() {
        return rerank;
    }

    /** How many nearest documents to find, from 1 to {@link #MAX_K}; null (the default) for no limit but {@code size}. */
    public HammingQueryBuilder k(@Nullable Integer k) {
        if (k != null && (k < 1 || k > MAX_K)) {
            throw new IllegalArgumentException(where(field) + ": [k] must be from 1 to " + MAX_K + " but was [" + k + "]");
        }
        this.k = k;
        return this;
    }

    public Integer k() {
        return k;
    }

    public HammingQueryBuilder strategy(SearchStrategy strategy) {
        this.strategy = Objects.requireNonNull(strategy, "[" + NAME + "] query: [strategy] must not be null; the default is [auto]");
        return this;
    }

    public SearchStrategy strategy() {
        return strategy;
    }

    /** This builder, made by the rewrite, with {@code from}'s options: all but what it searches for. */
    private HammingQueryBuilder withOptionsOf(HammingQueryBuilder from) {
        return ignoreUnmapped(from.ignoreUnmapped).rerank(from.rerank)
            .k(from.k)
            .strategy(from.strategy)
            .boost(from.boost)
            .queryName(from.queryName);
    }

    @Override
    protected void doXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject(NAME);
        builder.field(FIELD.getPreferredName(), field);
        if (code != null) {
            builder.field(CODE.getPreferredName(), code.toHex());
        }
        if (text != null) {
            builder.field(TEXT.getPreferredName(), text);
        }
        if (image != null) {
            builder.field(IMAGE.getPreferredName(), image);
        }
        if (model != null) {
            builder.field(MODEL.getPreferredName(), model);
        }
        if (maxDistance != null) {
            builder.field(MAX_DISTANCE.getPreferredName(), maxDistance);
        }
        if (ignoreUnmapped) {
            builder.field(IGNORE_UNMAPPED.getPreferredName(), true);
        }
        if (rerank != null) {
            builder.field(RERANK.getPreferredName(), rerank);
        }
        if (k != null) {
            builder.field(K.getPreferredName(), k);
        }
        if (strategy != SearchStrategy.AUTO) {
            builder.field(STRATEGY.getPreferredName(), strategy.jsonName());
        }
        printBoostAndQueryName(builder);
        builder.endObject();
    }

    public static HammingQueryBuilder fromXContent(XContentParser parser) {
        try {
            return PARSER.apply(parser, null);
        } catch (XContentParseException e) {
            throw parsingException(e, parser.getTokenLocation());
        }
    }

    /**
     * ObjectParser wraps an error in "[hamming] failed to parse field [x]" (and "Failed to build [hamming]"); the
     * first error under those says what was wrong, and is what users get: ours as they are (they say where they
     * are), Elasticsearch's (a boolean's, a boost's) after the name of the parameter they are about.
     */
    private static ParsingException parsingException(XContentParseException e, XContentLocation fallback) {
        XContentLocation location = fallback;
        String parameter = null;
        Throwable reason = e;
        while (reason instanceof XContentParseException x) {
            location = x.getLocation() == null ? location : x.getLocation();
            parameter = withoutLocation(x);
            if (x.getCause() == null) {
                return new ParsingException(location, parameter, e);
            }
            reason = x.getCause();
        }
        String message = Objects.toString(reason.getMessage(), reason.toString());
        return new ParsingException(location, message.startsWith("[" + NAME + "]") ? message : parameter + ": " + message, e);
    }

    /** The message without the "[line:column] " in front: ParsingException reports the location apart. */
    private static String withoutLocation(XContentParseException e) {
        String message = e.getMessage();
        return e.getLocation() == null ? message : message.substring(message.indexOf("] ") + 2);
    }

    /** "[hamming] query on field [f]", or without the field where it is not known yet. */
    private static String where(@Nullable String field) {
        return "[" + NAME + "] query" + (field == null ? "" : " on field [" + field + "]");
    }

    /** {@code raw} read by {@code read}, whose error (e.g. HashCode's "expected hex characters ...") is put after where it is. */
    private static <V, T> T convert(@Nullable String field, ParseField param, @Nullable V raw, Function<V, T> read) {
        if (raw == null) {
            return null;
        }
        try {
            return read.apply(raw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where(field) + ": [" + param.getPreferredName() + "] " + e.getMessage(), e);
        }
    }

    /** A whole number, also as a string ("2"), as Elasticsearch's own integer parameters accept; never a truncated 1.5. */
    private static int wholeNumber(String text, String expected) {
        try {
            double value = Double.parseDouble(text);
            if (value == Math.rint(value) && Math.abs(value) <= Integer.MAX_VALUE) {
                return (int) value;
            }
        } catch (NumberFormatException e) {
            // the message below says what was expected
        }
        throw new IllegalArgumentException("must be " + expected + " but was [" + text + "]");
    }

    /** A hex string, or the list of numbers {@link #parseCode} read. */
    private static HashCode code(Object raw) {
        return raw instanceof String hex ? HashCode.fromHex(hex) : HashCode.fromBitList((List<?>) raw);
    }

    private static Object parseCode(XContentParser parser) throws IOException {
        XContentParser.Token token = parser.currentToken();
        if (token == XContentParser.Token.VALUE_STRING) {
            return parser.text();
        }
        if (token == XContentParser.Token.START_ARRAY) {
            List<Object> bits = new ArrayList<>();
            while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                if (token != XContentParser.Token.VALUE_NUMBER) {
                    throw new IllegalArgumentException(where(null) + ": [code] arrays hold only 0/1 numbers but found [" + token + "]");
                }
                bits.add(parser.numberValue());
            }
            return bits;
        }
        throw new IllegalArgumentException(where(null) + ": [code] must be a hex string or an array of 0/1 values but was [" + token + "]");
    }

    /** The value the parser is on, whatever its type, for {@link HashInput#caption} and {@link HashInput#imageValue} to judge. */
    private static Object anyValue(XContentParser parser) throws IOException {
        return switch (parser.currentToken()) {
            case START_ARRAY -> parser.list();
            case START_OBJECT -> parser.map();
            case VALUE_NULL -> null;
            default -> parser.objectText();
        };
    }

    /**
     * A query by text or image becomes a query by code here, on the coordinating node: the input is
     * hashed once per request by {@link QueryHashAction} with this node's service, and the shards get
     * the code (and, for a re-rank, the query's embedding) rather than the image.
     */
    @Override
    protected QueryBuilder doRewrite(QueryRewriteContext context) throws IOException {
        if (code != null) {
            return this;
        }
        if (hashed != null) {
            HashOutput out = hashed.get();
            if (out == null) {
                return this;
            }
            HammingQueryBuilder rewritten = new HammingQueryBuilder(field, HashCode.ofBytes(out.code()), maxDistance).withOptionsOf(this);
            rewritten.hashedBy = model;
            if (rerank != null && rerank.vector() == null) {
                rewritten.rerank(rerank.withVector(out.embedding()));
            }
            return rewritten;
        }
        SetOnce<HashOutput> result = new SetOnce<>();
        QueryHashAction.Request request = new QueryHashAction.Request(model, text, image);
        context.registerAsyncAction(
            (client, listener) -> client.execute(QueryHashAction.INSTANCE, request, listener.map(response -> {
                result.set(response.output());
                return null;
            }))
        );
        return new HammingQueryBuilder(field, null, text, image, model, maxDistance, result::get).withOptionsOf(this);
    }

    @Override
    protected Query doToQuery(SearchExecutionContext context) {
        if (code == null) {
            throw new IllegalStateException("[" + NAME + "] query by [text] or [image] reached a shard before it was hashed");
        }
        MappedFieldType type = context.getFieldType(field);
        if (type == null) {
            if (ignoreUnmapped) {
                return new MatchNoDocsQuery("unmapped field [" + field + "]");
            }
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: field [" + field + "] is not mapped; map it as [binary_hash] or set [ignore_unmapped] to true"
            );
        }
        if (!(type instanceof BinaryHashFieldType hashType)) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: field [" + field + "] is of type [" + type.typeName() + "] but the query needs a field of type [binary_hash]"
            );
        }
        int bits = hashType.bits();
        if (code.bits() != bits && hashedBy != null) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: field [" + field + "] holds codes of [" + bits + "] bits but model [" + hashedBy + "] hashes the query's "
                    + "[text]/[image] to codes of [" + code.bits() + "] bits: query the field with the model that wrote it ([model])"
            );
        }
        if (code.bits() != bits) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: field [" + field + "] holds codes of [" + bits + "] bits (" + bits / 4 + " hex characters) but [code] has ["
                    + code.bits() + "] bits"
            );
        }
        int radius = maxDistance == null ? bits : maxDistance;
        if (rerank != null) {
            // The coarse stage is itself a top-k: the window's nearest codes (k's, if fewer), which the tables can find.
            int coarse = k == null ? rerank.window() : Math.min(k, rerank.window());
            return new RerankQuery(new HammingTopKQuery(field, code, radius, coarse, strategy, CostModel.DEFAULT), rerankQuery(context), rerank.window());
        }
        return k == null
            ? new HammingQuery(field, code, radius, strategy, CostModel.DEFAULT)
            : new HammingTopKQuery(field, code, radius, k, strategy, CostModel.DEFAULT);
    }

    /** The fine query of a re-rank: the similarity of each document's vector to the query's. */
    private Query rerankQuery(SearchExecutionContext context) {
        String vectorField = rerank.field();
        if (rerank.vector() == null) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: [rerank] needs a query vector: give [rerank.vector], or query by [text] or [image] to use the model's embedding"
            );
        }
        MappedFieldType type = context.getFieldType(vectorField);
        if (type instanceof DenseVectorFieldMapper.DenseVectorFieldType == false) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: [rerank.field] [" + vectorField + "] is " + (type == null ? "not mapped" : "of type [" + type.typeName() + "]")
                    + ": expected a [dense_vector] field of floats holding the documents' embeddings"
            );
        }
        if (type.isIndexed() == false) {
            return new StoredVectorScoreQuery(vectorField, rerank.vector(), context.indexVersionCreated());
        }
        try {
            return DenseVectors.exactQuery((DenseVectorFieldMapper.DenseVectorFieldType) type, rerank.vector());
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            throw new QueryShardException(context, "[" + NAME + "] query: cannot re-rank by [" + vectorField + "]: " + e.getMessage(), e);
        }
    }

    @Override
    protected boolean doEquals(HammingQueryBuilder other) {
        return field.equals(other.field)
            && Objects.equals(code, other.code)
            && Objects.equals(text, other.text)
            && Objects.equals(image, other.image)
            && Objects.equals(model, other.model)
            && Objects.equals(maxDistance, other.maxDistance)
            && ignoreUnmapped == other.ignoreUnmapped
            && Objects.equals(rerank, other.rerank)
            && Objects.equals(k, other.k)
            && strategy == other.strategy;
    }

    @Override
    protected int doHashCode() {
        return Objects.hash(field, code, text, image, model, maxDistance, ignoreUnmapped, rerank, k, strategy);
    }

    @Override
    public String getWriteableName() {
        return NAME;
    }

    @Override
    public TransportVersion getMinimalSupportedVersion() {
        return TransportVersion.zero();
    }
}
