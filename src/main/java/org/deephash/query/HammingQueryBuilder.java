package org.deephash.query;

import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.deephash.hamming.HammingQuery;
import org.deephash.hamming.HashCode;
import org.deephash.mapper.BinaryHashFieldMapper.BinaryHashFieldType;
import org.elasticsearch.TransportVersion;
import org.elasticsearch.common.ParsingException;
import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.core.Nullable;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.index.query.AbstractQueryBuilder;
import org.elasticsearch.index.query.QueryShardException;
import org.elasticsearch.index.query.SearchExecutionContext;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

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

    private final String field;
    private final HashCode code;
    private final Integer maxDistance;
    private boolean ignoreUnmapped = false;

    public HammingQueryBuilder(String field, HashCode code, @Nullable Integer maxDistance) {
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException("[" + NAME + "] query needs a [field]");
        }
        this.field = field;
        this.code = Objects.requireNonNull(code, "[" + NAME + "] query needs a [code]");
        if (maxDistance != null && (maxDistance < 0 || maxDistance > code.bits())) {
            throw new IllegalArgumentException(
                "[" + NAME + "] query on field [" + field + "]: [max_distance] must be between 0 and the code's " + code.bits()
                    + " bits but was [" + maxDistance + "]"
            );
        }
        this.maxDistance = maxDistance;
    }

    public HammingQueryBuilder(StreamInput in) throws IOException {
        super(in);
        field = in.readString();
        code = HashCode.ofBytes(in.readByteArray());
        maxDistance = in.readOptionalVInt();
        ignoreUnmapped = in.readBoolean();
    }

    @Override
    protected void doWriteTo(StreamOutput out) throws IOException {
        out.writeString(field);
        out.writeByteArray(code.bytes());
        out.writeOptionalVInt(maxDistance);
        out.writeBoolean(ignoreUnmapped);
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
        builder.field(CODE.getPreferredName(), code.toHex());
        if (maxDistance != null) {
            builder.field(MAX_DISTANCE.getPreferredName(), maxDistance);
        }
        if (ignoreUnmapped) {
            builder.field(IGNORE_UNMAPPED.getPreferredName(), true);
        }
        printBoostAndQueryName(builder);
        builder.endObject();
    }

    public static HammingQueryBuilder fromXContent(XContentParser parser) throws IOException {
        String field = null;
        Object rawCode = null;
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
            } else if (token.isValue()) {
                if (FIELD.match(current, parser.getDeprecationHandler())) {
                    field = parser.text();
                } else if (MAX_DISTANCE.match(current, parser.getDeprecationHandler())) {
                    maxDistance = readMaxDistance(parser, field);
                } else if (IGNORE_UNMAPPED.match(current, parser.getDeprecationHandler())) {
                    ignoreUnmapped = parser.booleanValue();
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
        if (rawCode == null) {
            throw new ParsingException(
                parser.getTokenLocation(),
                "[" + NAME + "] query on field [" + field + "] needs a [code]: hex or an array of 0/1 values"
            );
        }
        HammingQueryBuilder builder;
        try {
            HashCode code = rawCode instanceof String hex ? HashCode.fromHex(hex) : HashCode.fromBitList((List<?>) rawCode);
            builder = new HammingQueryBuilder(field, code, maxDistance);
        } catch (IllegalArgumentException e) {
            String message = e.getMessage().startsWith("[" + NAME + "]")
                ? e.getMessage()
                : "[" + NAME + "] query on field [" + field + "]: [code] " + e.getMessage();
            throw new ParsingException(parser.getTokenLocation(), message, e);
        }
        return builder.ignoreUnmapped(ignoreUnmapped).boost(boost).queryName(queryName);
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

    @Override
    protected Query doToQuery(SearchExecutionContext context) {
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
        if (code.bits() != bits) {
            throw new QueryShardException(
                context,
                "[" + NAME + "] query: field [" + field + "] holds codes of [" + bits + "] bits (" + bits / 4 + " hex characters) but [code] has ["
                    + code.bits() + "] bits"
            );
        }
        return new HammingQuery(field, code, maxDistance == null ? bits : maxDistance);
    }

    @Override
    protected boolean doEquals(HammingQueryBuilder other) {
        return field.equals(other.field)
            && code.equals(other.code)
            && Objects.equals(maxDistance, other.maxDistance)
            && ignoreUnmapped == other.ignoreUnmapped;
    }

    @Override
    protected int doHashCode() {
        return Objects.hash(field, code, maxDistance, ignoreUnmapped);
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
