package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.SetOnce;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HashCode;
import org.deephash.hamming.RerankQuery;
import org.deephash.model.HashInput;
import org.deephash.model.HashOutput;
import org.deephash.model.InputException;
import org.deephash.model.ModelRegistry;
import org.deephash.mapper.BinaryHashFieldMapper.BinaryHashFieldType;
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
import org.elasticsearch.search.vectors.VectorData;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The {@code hamming} query: documents ranked by the Hamming distance between their
 * {@code binary_hash} code and a query code, optionally only those within {@code max_distance}.
 */
public final class HammingQueryBuilder extends AbstractQueryBuilder<HammingQueryBuilder> {
    public static final String NAME = "hamming";

    static final ParseField FIELD = new ParseField("field");
    static final ParseField CODE = new ParseField("code");
    static final ParseField MAX_DISTANCE = new ParseField("max_distance");
    static final ParseField IGNORE_UNMAPPED = new ParseField("ignore_unmapped");
    static final ParseField TEXT = new ParseField("text");
    static final ParseField IMAGE = new ParseField("image");
    static final ParseField MODEL = new ParseField("model");
    static final ParseField RERANK = new ParseField("rerank");
    static final ParseField RERANK_FIELD = new ParseField("field");
    static final ParseField RERANK_WINDOW = new ParseField("window");
    static final ParseField RERANK_VECTOR = new ParseField("vector");
    public static final int DEFAULT_WINDOW = 100;
    public static final int MAX_WINDOW = 10_000;

    /**
     * Lin et al.'s fine stage: the {@code window} best documents by Hamming distance (per shard) are
     * re-scored by the similarity of the dense vector in {@code field} to {@code vector} (the query's
     * embedding from the model, or given).
     */
    public record Rerank(String field, int window, @Nullable float[] vector) {
        public Rerank {
            if (field == null || field.isEmpty()) {
                throw new IllegalArgumentException("[" + NAME + "] query: [rerank] needs a [field]: the dense_vector field to re-rank by");
            }
            if (window < 1 || window > MAX_WINDOW) {
                throw new IllegalArgumentException(
                    "[" + NAME + "] query: [rerank.window] must be from 1 to " + MAX_WINDOW + " but was [" + window + "]"
                );
            }
        }

        Rerank withVector(float[] v) {
            return new Rerank(field, window, v);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Rerank r && field.equals(r.field) && window == r.window && Arrays.equals(vector, r.vector);
        }

        @Override
        public int hashCode() {
            return Objects.hash(field, window, Arrays.hashCode(vector));
        }

        @Override
        public String toString() {
            return "rerank[" + field + ", " + window + (vector == null ? "" : ", " + vector.length + " dims") + "]";
        }
    }

    private final String field;
    private final HashCode code;
    private final String text;
    private final String image;
    private final String model;
    private final Integer maxDistance;
    private boolean ignoreUnmapped = false;
    private Rerank rerank;
    /** The query's hash, once the rewrite's asynchronous inference is done. */
    private final Supplier<HashOutput> hashed;
    /**
     * The model whose code a query by text or image became at rewrite, so that a shard can say which
     * model's width does not fit the field; sent to the shards, not part of the query's JSON or equality.
     */
    private String hashedBy;

    public HammingQueryBuilder(String field, HashCode code, @Nullable Integer maxDistance) {
        this(field, Objects.requireNonNull(code, "[" + NAME + "] query needs a [code]"), null, null, null, maxDistance, null);
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
            throw new IllegalArgumentException("[" + NAME + "] query needs a [field]");
        }
        this.field = field;
        if (code == null && text == null && image == null) {
            throw new IllegalArgumentException(
                "[" + NAME + "] query on field [" + field + "] needs a [code] (hex or an array of 0/1 values), a [text] or an [image] (base64)"
            );
        }
        if (code != null && (text != null || image != null)) {
            throw new IllegalArgumentException(
                "[" + NAME + "] query on field [" + field + "] takes a [code] or a [text] and/or [image] to hash, not both"
            );
        }
        // Blank inputs are refused here as the deep_hash processor refuses a document's blank caption or picture:
        // an empty text would otherwise hash to some code and rank every document.
        for (String[] input : new String[][] { { "text", text }, { "image", image } }) {
            if (input[1] != null && input[1].isBlank()) {
                boolean isText = input[0].equals("text");
                throw new InputException(
                    isText ? InputException.Kind.MISSING_INPUT : InputException.Kind.EMPTY_IMAGE,
                    "[" + NAME + "] query on field [" + field + "]: [" + input[0] + "] is empty: expected "
                        + (isText ? "a caption or keywords to hash" : "the base64 bytes of a picture to hash")
                );
            }
        }
        if (code == null && model != null) {
            ModelRegistry.checkName(model);
        }
        if (code != null && model != null) {
            throw new IllegalArgumentException("[" + NAME + "] query on field [" + field + "]: [model] goes with [text] or [image], not with [code]");
        }
        this.code = code;
        this.text = text;
        this.image = image;
        this.model = code == null ? (model == null ? ModelRegistry.DEFAULT_MODEL : model) : null;
        int limit = code == null ? HashCode.MAX_BITS : code.bits();
        if (maxDistance != null && (maxDistance < 0 || maxDistance > limit)) {
            throw new IllegalArgumentException(
                "[" + NAME + "] query on field [" + field + "]: [max_distance] must be between 0 and the code's " + limit + " bits but was ["
                    + maxDistance + "]"
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
        if (in.readBoolean()) {
            String rerankField = in.readString();
            int window = in.readVInt();
            rerank = new Rerank(rerankField, window, in.readOptionalFloatArray());
        }
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
        out.writeBoolean(rerank != null);
        if (rerank != null) {
            out.writeString(rerank.field());
            out.writeVInt(rerank.window());
            out.writeOptionalFloatArray(rerank.vector());
        }
        out.writeOptionalString(hashedBy);
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

    public Rerank rerank() {
        return rerank;
    }

    public HammingQueryBuilder rerank(Rerank rerank) {
        this.rerank = rerank;
        return this;
    }

    public String field() {
        return field;
    }

    public HashCode code() {
        return code;
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
            builder.startObject(RERANK.getPreferredName());
            builder.field(RERANK_FIELD.getPreferredName(), rerank.field());
            builder.field(RERANK_WINDOW.getPreferredName(), rerank.window());
            if (rerank.vector() != null) {
                builder.array(RERANK_VECTOR.getPreferredName(), rerank.vector());
            }
            builder.endObject();
        }
        printBoostAndQueryName(builder);
        builder.endObject();
    }

    public static HammingQueryBuilder fromXContent(XContentParser parser) throws IOException {
        String field = null;
        Object rawCode = null;
        String text = null;
        String image = null;
        String model = null;
        Rerank rerank = null;
        Integer maxDistance = null;
        boolean ignoreUnmapped = false;
        float boost = DEFAULT_BOOST;
        String queryName = null;
        String current = null;
        XContentParser.Token token;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token == XContentParser.Token.FIELD_NAME) {
                current = parser.currentName();
            } else if (CODE.match(current, parser.getDeprecationHandler())) {
                rawCode = readCode(parser, token);
            } else if (RERANK.match(current, parser.getDeprecationHandler())) {
                rerank = readRerank(parser, token);
            } else if (TEXT.match(current, parser.getDeprecationHandler())) {
                text = readInput(parser, token, TEXT);
            } else if (IMAGE.match(current, parser.getDeprecationHandler())) {
                image = readInput(parser, token, IMAGE);
            } else if (token.isValue()) {
                if (FIELD.match(current, parser.getDeprecationHandler())) {
                    field = parser.text();
                } else if (MAX_DISTANCE.match(current, parser.getDeprecationHandler())) {
                    maxDistance = readMaxDistance(parser, field);
                } else if (IGNORE_UNMAPPED.match(current, parser.getDeprecationHandler())) {
                    ignoreUnmapped = parser.booleanValue();
                } else if (MODEL.match(current, parser.getDeprecationHandler())) {
                    model = parser.text();
                } else if (BOOST_FIELD.match(current, parser.getDeprecationHandler())) {
                    boost = parser.floatValue();
                } else if (NAME_FIELD.match(current, parser.getDeprecationHandler())) {
                    queryName = parser.text();
                } else {
                    throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query does not support [" + current + "]");
                }
            } else {
                throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query does not support [" + current + "] of type [" + token + "]");
            }
        }
        if (field == null) {
            throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query needs a [field]: the binary_hash field to search");
        }
        if (rawCode == null && text == null && image == null) {
            throw new ParsingException(
                parser.getTokenLocation(),
                "[" + NAME + "] query on field [" + field + "] needs a [code] (hex or an array of 0/1 values), a [text] or an [image] (base64)"
            );
        }
        HammingQueryBuilder builder;
        try {
            if (rawCode != null) {
                if (text != null || image != null || model != null) {
                    throw new IllegalArgumentException(
                        "[" + NAME + "] query on field [" + field + "] takes either a [code] or a [text] and/or [image] with a [model], not both"
                    );
                }
                HashCode code = rawCode instanceof String hex ? HashCode.fromHex(hex) : HashCode.fromBitList((List<?>) rawCode);
                builder = new HammingQueryBuilder(field, code, null, null, null, maxDistance, null);
            } else {
                builder = new HammingQueryBuilder(field, text, image, model, maxDistance);
            }
            builder.rerank(rerank);
        } catch (IllegalArgumentException e) {
            String message = e.getMessage().startsWith("[" + NAME + "]")
                ? e.getMessage()
                : "[" + NAME + "] query on field [" + field + "]: [code] " + e.getMessage();
            throw new ParsingException(parser.getTokenLocation(), message, e);
        }
        return builder.ignoreUnmapped(ignoreUnmapped).boost(boost).queryName(queryName);
    }

    /**
     * A [text] (a string, or an array of strings joined with ", ") or an [image] (a string of base64),
     * read with the rules the deep_hash processor reads a document's caption and picture with
     * ({@link HashInput#caption}, {@link HashInput#imageValue}): a number, an object or a boolean is refused.
     */
    private static String readInput(XContentParser parser, XContentParser.Token token, ParseField which) throws IOException {
        Object value = token == XContentParser.Token.START_ARRAY ? parser.list()
            : token == XContentParser.Token.START_OBJECT ? parser.map()
            : token == XContentParser.Token.VALUE_NULL ? null
            : parser.objectText();
        String what = "[" + NAME + "] query: [" + which.getPreferredName() + "]";
        try {
            return which == TEXT ? HashInput.caption(value, what) : HashInput.imageValue(value, what);
        } catch (InputException e) {
            throw new ParsingException(parser.getTokenLocation(), e.getMessage(), e);
        }
    }

    /** A whole number, also as a string ("2"), as Elasticsearch's own integer parameters accept; never a truncated 1.5. */
    private static int readMaxDistance(XContentParser parser, String field) throws IOException {
        String text = parser.text();
        try {
            double value = Double.parseDouble(text);
            if (value == Math.rint(value) && Math.abs(value) <= Integer.MAX_VALUE) {
                return (int) value;
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new ParsingException(
            parser.getTokenLocation(),
            "[" + NAME + "] query" + (field == null ? "" : " on field [" + field + "]") + ": [max_distance] must be a whole number of bits but was [" + text + "]"
        );
    }

    private static Rerank readRerank(XContentParser parser, XContentParser.Token token) throws IOException {
        if (token != XContentParser.Token.START_OBJECT) {
            throw new ParsingException(
                parser.getTokenLocation(),
                "[" + NAME + "] query: [rerank] must be an object like {\"field\": \"embedding\", \"window\": 100} but was [" + token + "]"
            );
        }
        String rerankField = null;
        int window = DEFAULT_WINDOW;
        float[] vector = null;
        String current = null;
        while ((token = parser.nextToken()) != XContentParser.Token.END_OBJECT) {
            if (token == XContentParser.Token.FIELD_NAME) {
                current = parser.currentName();
            } else if (RERANK_FIELD.match(current, parser.getDeprecationHandler()) && token.isValue()) {
                rerankField = parser.text();
            } else if (RERANK_WINDOW.match(current, parser.getDeprecationHandler()) && token.isValue()) {
                window = parser.intValue(false);
            } else if (RERANK_VECTOR.match(current, parser.getDeprecationHandler()) && token == XContentParser.Token.START_ARRAY) {
                List<Float> values = new ArrayList<>();
                while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                    if (token != XContentParser.Token.VALUE_NUMBER) {
                        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query: [rerank.vector] holds only numbers but found [" + token + "]");
                    }
                    values.add(parser.floatValue());
                }
                vector = new float[values.size()];
                for (int i = 0; i < vector.length; i++) {
                    vector[i] = values.get(i);
                }
            } else {
                throw new ParsingException(
                    parser.getTokenLocation(),
                    "[" + NAME + "] query: [rerank] does not support [" + current + "]; it takes [field], [window] and [vector]"
                );
            }
        }
        try {
            return new Rerank(rerankField, window, vector);
        } catch (IllegalArgumentException e) {
            throw new ParsingException(parser.getTokenLocation(), e.getMessage(), e);
        }
    }

    private static Object readCode(XContentParser parser, XContentParser.Token token) throws IOException {
        if (token == XContentParser.Token.VALUE_STRING) {
            return parser.text();
        }
        if (token == XContentParser.Token.START_ARRAY) {
            List<Object> bits = new ArrayList<>();
            while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                if (token == XContentParser.Token.VALUE_NUMBER) {
                    bits.add(parser.numberValue());
                } else {
                    throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query: [code] arrays hold only 0/1 numbers but found [" + token + "]");
                }
            }
            return bits;
        }
        throw new ParsingException(parser.getTokenLocation(), "[" + NAME + "] query: [code] must be a hex string or an array of 0/1 values but was [" + token + "]");
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
            HashCode hashedCode = HashCode.ofBytes(out.code());
            HammingQueryBuilder rewritten = new HammingQueryBuilder(field, hashedCode, maxDistance);
            rewritten.ignoreUnmapped(ignoreUnmapped).boost(boost).queryName(queryName);
            rewritten.hashedBy = model;
            if (rerank != null) {
                rewritten.rerank(rerank.vector() == null ? rerank.withVector(out.embedding()) : rerank);
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
        HammingQueryBuilder pending = new HammingQueryBuilder(field, null, text, image, model, maxDistance, result::get);
        pending.ignoreUnmapped(ignoreUnmapped).rerank(rerank).boost(boost).queryName(queryName);
        return pending;
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
        Query hamming = new HammingQuery(field, code, maxDistance == null ? bits : maxDistance);
        return rerank == null ? hamming : new RerankQuery(hamming, rerankQuery(context), rerank.window());
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
            return ((DenseVectorFieldMapper.DenseVectorFieldType) type).createExactKnnQuery(VectorData.fromFloats(rerank.vector()), null, null);
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
            && Objects.equals(rerank, other.rerank);
    }

    @Override
    protected int doHashCode() {
        return Objects.hash(field, code, text, image, model, maxDistance, ignoreUnmapped, rerank);
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
