package org.deephash.mapper;

import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.SortedNumericDocValuesField;
import org.apache.lucene.search.ConstantScoreQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.BytesRef;
import org.deephash.hamming.HammingQuery;
import org.deephash.engine.DeepHashEngineFactory;
import org.deephash.hamming.HashCode;
import org.elasticsearch.common.collect.Iterators;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.index.fielddata.FieldDataContext;
import org.elasticsearch.index.fielddata.IndexFieldData;
import org.elasticsearch.index.mapper.ArraySourceValueFetcher;
import org.elasticsearch.index.mapper.DocumentParserContext;
import org.elasticsearch.index.mapper.FieldMapper;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.index.mapper.Mapper;
import org.elasticsearch.index.mapper.MapperBuilderContext;
import org.elasticsearch.index.mapper.NumberFieldMapper;
import org.elasticsearch.index.mapper.TextSearchInfo;
import org.elasticsearch.index.mapper.ValueFetcher;
import org.elasticsearch.index.query.SearchExecutionContext;
import org.elasticsearch.search.DocValueFormat;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code binary_hash} field: one fixed-width binary code per document, kept in doc values and
 * searched with the {@code hamming} query.
 *
 * <p>A value is hex of exactly {@code bits / 4} characters, or an array of exactly {@code bits} 0/1
 * numbers; {@code null} and {@code []} mean no value.
 *
 * <p>With {@code bits_field: true} it also keeps, in a sub-field {@code <field>.bits}, the position
 * of every bit that is set (0 is the most significant bit of the first hex digit), as a multi-valued
 * {@code integer} with doc values only. Why a sub-field of Elasticsearch's own type rather than a
 * new aggregation: a {@code terms} (or {@code histogram}) aggregation over it counts, per bit, the
 * documents that have it set, which is what a bit-balance panel needs, and every standard
 * aggregation, Kibana's Lens and Vega, {@code _field_caps} and the clients already understand an
 * integer field; nothing needs to be written, serialized or kept compatible on the plugin's side.
 * It costs about half the code's bits as numbers per document in doc values, so it is opt-in.
 * Under {@code index.deep_hash.codec} it keeps Elasticsearch's doc-values format: the codec sends
 * only fields whose type is {@code binary_hash} to the plugin's format.
 */
public final class BinaryHashFieldMapper extends FieldMapper {
    public static final String CONTENT_TYPE = "binary_hash";
    /** The leaf name of the sub-field that {@code bits_field: true} adds: {@code <field>.bits}. */
    public static final String BITS_SUB_FIELD = "bits";

    private static BinaryHashFieldMapper toType(FieldMapper in) {
        return (BinaryHashFieldMapper) in;
    }

    public static final class Builder extends FieldMapper.Builder {
        private final Parameter<Integer> bits;
        private final Parameter<Boolean> ignoreMalformed;
        // Not updateable: documents indexed before would have no bits and count as all zeros.
        private final Parameter<Boolean> bitsField = new Parameter<>(
            "bits_field",
            false,
            () -> false,
            (n, c, o) -> parseBitsField(n, o),
            m -> toType(m).bitsMapper != null,
            XContentBuilder::field,
            Objects::toString
        );
        // Updateable: segments written from then on (new ones and merges) follow it; the others scan until merged.
        private final Parameter<IndexOptions> indexOptions = new Parameter<>(
            "index_options",
            true,
            () -> IndexOptions.FLAT,
            (n, c, o) -> IndexOptions.parse(n, o),
            m -> toType(m).fieldType().indexOptions(),
            (b, n, v) -> v.toXContent(b, n),
            Objects::toString
        );
        private final Parameter<Map<String, String>> meta = Parameter.metaParam();
        private final boolean ignoreMalformedByDefault;
        private final IndexVersion indexCreatedVersion;
        /** Whether the index stores binary_hash fields in the plugin's format ({@code index.deep_hash.codec}). */
        private final boolean pluginFormat;

        public Builder(String name, boolean ignoreMalformedByDefault, IndexVersion indexCreatedVersion, boolean pluginFormat) {
            super(name);
            this.ignoreMalformedByDefault = ignoreMalformedByDefault;
            this.indexCreatedVersion = indexCreatedVersion;
            this.pluginFormat = pluginFormat;
            // Not updateable: codes of another width already in the index could never be compared.
            this.bits = new Parameter<>(
                "bits",
                false,
                () -> -1,
                (n, c, o) -> parseBits(n, o),
                m -> toType(m).fieldType().bits(),
                XContentBuilder::field,
                Objects::toString
            ).addValidator(b -> {
                if (b == -1) {
                    throw new IllegalArgumentException("field [" + leafName() + "] of type [" + CONTENT_TYPE + "] needs [bits]: the code width, a multiple of 8 from 8 to 4096");
                }
                try {
                    HashCode.validateBits(b);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("field [" + leafName() + "]: " + e.getMessage());
                }
            }).alwaysSerialize();
            this.ignoreMalformed = Parameter.boolParam("ignore_malformed", true, m -> toType(m).ignoreMalformed, ignoreMalformedByDefault);
        }

        private static int parseBits(String field, Object value) {
            if (value instanceof Number n && n.doubleValue() == n.intValue()) {
                return n.intValue();
            }
            if (value instanceof String text) {
                try {
                    return Integer.parseInt(text);
                } catch (NumberFormatException e) {
                    // fall through to the message below
                }
            }
            throw new IllegalArgumentException(
                "[bits] on field [" + field + "] must be a whole number, a multiple of 8 from 8 to 4096, but was [" + value + "]"
            );
        }

        private static boolean parseBitsField(String field, Object value) {
            if (value instanceof Boolean b) {
                return b;
            }
            if ("true".equals(value) || "false".equals(value)) {
                return Boolean.parseBoolean((String) value);
            }
            throw new IllegalArgumentException(
                "[bits_field] on field [" + field + "] must be true or false but was [" + value + "]"
            );
        }

        public Builder bits(int bits) {
            this.bits.setValue(bits);
            return this;
        }

        @Override
        protected Parameter<?>[] getParameters() {
            return new Parameter<?>[] { bits, ignoreMalformed, bitsField, indexOptions, meta };
        }

        @Override
        public BinaryHashFieldMapper build(MapperBuilderContext context) {
            IndexOptions options = indexOptions.getValue();
            options.validate(leafName(), bits.getValue(), pluginFormat);
            BinaryHashFieldType type = new BinaryHashFieldType(context.buildFullName(leafName()), bits.getValue(), options, meta.getValue());
            NumberFieldMapper bitsMapper = bitsField.getValue()
                ? NumberFieldMapper.Builder.docValuesOnly(BITS_SUB_FIELD, NumberFieldMapper.NumberType.INTEGER, indexCreatedVersion)
                    .build(context.createChildContext(leafName(), null))
                : null;
            return new BinaryHashFieldMapper(leafName(), type, builderParams(this, context), this, bitsMapper);
        }
    }

    public static final TypeParser PARSER = new TypeParser(
        (n, c) -> new Builder(
            n,
            IGNORE_MALFORMED_SETTING.get(c.getSettings()),
            c.indexVersionCreated(),
            DeepHashEngineFactory.CODEC_SETTING.get(c.getSettings())
        )
    );

    public static final class BinaryHashFieldType extends MappedFieldType {
        private final int bits;
        private final IndexOptions indexOptions;

        public BinaryHashFieldType(String name, int bits, IndexOptions indexOptions, Map<String, String> meta) {
            // Searchable: by the hamming query and by term (exact code), both over doc values.
            super(name, true, false, true, TextSearchInfo.NONE, meta);
            this.bits = bits;
            this.indexOptions = indexOptions;
        }

        public BinaryHashFieldType(String name, int bits, Map<String, String> meta) {
            this(name, bits, IndexOptions.FLAT, meta);
        }

        public int bits() {
            return bits;
        }

        public IndexOptions indexOptions() {
            return indexOptions;
        }

        @Override
        public String typeName() {
            return CONTENT_TYPE;
        }

        /** Parses a value as sent in a document or a query and checks its width against the mapping. */
        public HashCode parseCode(Object value) {
            try {
                HashCode code;
                if (value instanceof List<?> list) {
                    if (list.isEmpty() == false && list.get(0) instanceof String && list.size() != bits) {
                        throw new IllegalArgumentException(
                            "expected one code (a hex string) or an array of " + bits + " values of 0/1 but got an array of " + list.size()
                                + " strings: a document holds one code per field"
                        );
                    }
                    checkLength(list.size(), bits, "values of 0/1");
                    code = HashCode.fromBitList(list);
                } else if (value instanceof String hex) {
                    checkLength(hex.length(), bits / 4, "hex characters");
                    code = HashCode.fromHex(hex);
                } else if (value instanceof BytesRef ref) {
                    code = HashCode.fromHex(ref.utf8ToString());
                } else if (value instanceof NotACode notACode) {
                    throw new IllegalArgumentException("expected a hex string or an array of 0/1 values but got " + notACode);
                } else {
                    throw new IllegalArgumentException("expected a hex string or an array of 0/1 values but got [" + value + "]");
                }
                return code.checkBits(bits);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("field [" + name() + "] of type [" + CONTENT_TYPE + "] with [bits] = " + bits + ": " + e.getMessage(), e);
            }
        }

        private static void checkLength(int got, int expected, String what) {
            if (got != expected) {
                throw new IllegalArgumentException("expected " + expected + " " + what + " but got " + got);
            }
        }

        @Override
        public ValueFetcher valueFetcher(SearchExecutionContext context, String format) {
            if (format != null) {
                throw new IllegalArgumentException("field [" + name() + "] of type [" + typeName() + "] doesn't support formats");
            }
            // An array of 0/1 is one value, so the whole array has to reach parseSourceValue.
            return new ArraySourceValueFetcher(name(), context) {
                @Override
                protected Object parseSourceValue(Object value) {
                    return List.of(parseCode(value).toHex());
                }
            };
        }

        @Override
        public DocValueFormat docValueFormat(String format, ZoneId timeZone) {
            checkNoFormat(format);
            checkNoTimeZone(timeZone);
            return HexDocValueFormat.INSTANCE;
        }

        @Override
        public IndexFieldData.Builder fielddataBuilder(FieldDataContext fieldDataContext) {
            return new BinaryHashIndexFieldData.Builder(name());
        }

        /** A term is an exact code: the same as {@code hamming} with {@code max_distance: 0}, without scores. */
        @Override
        public Query termQuery(Object value, SearchExecutionContext context) {
            return new ConstantScoreQuery(new HammingQuery(name(), parseCode(value), 0));
        }

        @Override
        public Object valueForDisplay(Object value) {
            if (value instanceof BytesRef ref) {
                return HashCode.toHex(ref.bytes, ref.offset, ref.length);
            }
            return value;
        }
    }

    private final boolean ignoreMalformed;
    private final boolean ignoreMalformedByDefault;
    private final IndexVersion indexCreatedVersion;
    private final boolean pluginFormat;
    /** {@code <field>.bits}, or null without {@code bits_field}. */
    private final NumberFieldMapper bitsMapper;

    private BinaryHashFieldMapper(String simpleName, BinaryHashFieldType type, BuilderParams params, Builder builder, NumberFieldMapper bitsMapper) {
        super(simpleName, type, params);
        this.ignoreMalformed = builder.ignoreMalformed.getValue();
        this.ignoreMalformedByDefault = builder.ignoreMalformedByDefault;
        this.indexCreatedVersion = builder.indexCreatedVersion;
        this.pluginFormat = builder.pluginFormat;
        this.bitsMapper = bitsMapper;
    }

    /**
     * The sub-field is a child mapper, as multi-fields are, so that the mapping lookup registers its type
     * (aggregations, field caps); it is not a multi-field because it never parses the value itself, and
     * not in the mapping's JSON because {@code bits_field} rebuilds it.
     */
    @Override
    public Iterator<Mapper> iterator() {
        return bitsMapper == null ? super.iterator() : Iterators.concat(super.iterator(), Iterators.single(bitsMapper));
    }

    @Override
    public int getTotalFieldsCount() {
        return super.getTotalFieldsCount() + (bitsMapper == null ? 0 : 1);
    }

    @Override
    public BinaryHashFieldType fieldType() {
        return (BinaryHashFieldType) super.fieldType();
    }

    @Override
    public boolean ignoreMalformed() {
        return ignoreMalformed;
    }

    @Override
    public boolean parsesArrayValue() {
        return true;
    }

    @Override
    protected String contentType() {
        return CONTENT_TYPE;
    }

    @Override
    protected void parseCreateField(DocumentParserContext context) throws IOException {
        XContentParser parser = context.parser();
        Object value = readValue(parser);
        if (value == null) {
            return;
        }
        HashCode code;
        try {
            code = fieldType().parseCode(value);
        } catch (IllegalArgumentException e) {
            if (ignoreMalformed) {
                context.addIgnoredField(fieldType().name());
                return;
            }
            throw e;
        }
        String name = fieldType().name();
        if (context.doc().getByKey(name) != null) {
            throw new IllegalArgumentException(
                "field [" + name + "] of type [" + CONTENT_TYPE + "] takes one code per document but this document has more than one"
            );
        }
        context.doc().addWithKey(name, new BinaryDocValuesField(name, new BytesRef(code.bytes())));
        if (bitsMapper != null) {
            String bitsName = bitsMapper.fullPath();
            byte[] bytes = code.bytes();
            for (int i = 0; i < bytes.length; i++) {
                for (int b = 0; b < 8; b++) {
                    if ((bytes[i] & (0x80 >>> b)) != 0) {
                        context.doc().add(new SortedNumericDocValuesField(bitsName, i * 8 + b));
                    }
                }
            }
        }
    }

    /**
     * Reads the value under the parser into a String or a List, leaving the parser on its last token
     * whatever it holds, so that a malformed value can be skipped. Returns null for no value.
     */
    private static Object readValue(XContentParser parser) throws IOException {
        XContentParser.Token token = parser.currentToken();
        if (token == XContentParser.Token.VALUE_NULL) {
            return null;
        }
        if (token == XContentParser.Token.VALUE_STRING) {
            return parser.text();
        }
        if (token == XContentParser.Token.START_ARRAY) {
            List<Object> values = new ArrayList<>();
            while ((token = parser.nextToken()) != XContentParser.Token.END_ARRAY) {
                if (token == XContentParser.Token.VALUE_NUMBER) {
                    values.add(parser.numberValue());
                } else if (token.isValue()) {
                    values.add(parser.text());
                } else if (token == XContentParser.Token.VALUE_NULL) {
                    values.add("null");
                } else {
                    parser.skipChildren();
                    values.add(token == XContentParser.Token.START_OBJECT ? NotACode.OBJECT : NotACode.ARRAY);
                }
            }
            return values.isEmpty() ? null : values;
        }
        if (token == XContentParser.Token.START_OBJECT) {
            parser.skipChildren();
            return NotACode.OBJECT;
        }
        // A number or boolean: never a code, and not a String, so that 1234 is not read as hex.
        return token == XContentParser.Token.VALUE_NUMBER ? parser.numberValue() : parser.objectText();
    }

    /** What a document held where a code was expected, when it is not even a string or a number. */
    private enum NotACode {
        OBJECT("an object"),
        ARRAY("a nested array");

        private final String description;

        NotACode(String description) {
            this.description = description;
        }

        @Override
        public String toString() {
            return description;
        }
    }

    @Override
    public FieldMapper.Builder getMergeBuilder() {
        return new Builder(leafName(), ignoreMalformedByDefault, indexCreatedVersion, pluginFormat).init(this);
    }
}
