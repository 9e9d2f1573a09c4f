package org.deephash.query;

import org.elasticsearch.common.io.stream.StreamInput;
import org.elasticsearch.common.io.stream.StreamOutput;
import org.elasticsearch.common.io.stream.Writeable;
import org.elasticsearch.core.Nullable;
import org.elasticsearch.xcontent.ConstructingObjectParser;
import org.elasticsearch.xcontent.ObjectParser;
import org.elasticsearch.xcontent.ParseField;
import org.elasticsearch.xcontent.ToXContentObject;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.xcontent.XContentParser;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

import static org.elasticsearch.xcontent.ConstructingObjectParser.optionalConstructorArg;

/**
 * The {@code rerank} option of the {@code hamming} query, Lin et al.'s fine stage: the {@code window}
 * best documents by Hamming distance (per shard) are re-scored by the similarity of the dense vector in
 * {@code field} to {@code vector} (the query's embedding from the model, or given).
 */
public record Rerank(String field, int window, @Nullable float[] vector) implements Writeable, ToXContentObject {
    public static final int DEFAULT_WINDOW = 100;
    public static final int MAX_WINDOW = 10_000;

    static final ParseField FIELD = new ParseField("field");
    static final ParseField WINDOW = new ParseField("window");
    static final ParseField VECTOR = new ParseField("vector");

    private static final String WHAT = "[" + HammingQueryBuilder.NAME + "] query: [rerank]";

    private static final ConstructingObjectParser<Rerank, Void> PARSER = new ConstructingObjectParser<>(
        "rerank",
        a -> new Rerank((String) a[0], a[1] == null ? DEFAULT_WINDOW : (Integer) a[1], (float[]) a[2])
    );

    static {
        // field is optional here so that its absence gets the constructor's message, not "Required [field]"
        PARSER.declareString(optionalConstructorArg(), FIELD);
        PARSER.declareField(optionalConstructorArg(), (p, c) -> p.intValue(false), WINDOW, ObjectParser.ValueType.INT);
        PARSER.declareField(optionalConstructorArg(), (p, c) -> parseVector(p), VECTOR, ObjectParser.ValueType.FLOAT_ARRAY);
    }

    public Rerank {
        if (field == null || field.isEmpty()) {
            throw new IllegalArgumentException(WHAT + " needs a [field]: the dense_vector field to re-rank by");
        }
        if (window < 1 || window > MAX_WINDOW) {
            throw new IllegalArgumentException(
                "[" + HammingQueryBuilder.NAME + "] query: [rerank.window] must be from 1 to " + MAX_WINDOW + " but was [" + window + "]"
            );
        }
    }

    public Rerank(StreamInput in) throws IOException {
        this(in.readString(), in.readVInt(), in.readOptionalFloatArray());
    }

    @Override
    public void writeTo(StreamOutput out) throws IOException {
        out.writeString(field);
        out.writeVInt(window);
        out.writeOptionalFloatArray(vector);
    }

    /** Reads the object the parser is on; anything else is refused with an example of what is expected. */
    public static Rerank fromXContent(XContentParser parser) {
        if (parser.currentToken() != XContentParser.Token.START_OBJECT) {
            throw new IllegalArgumentException(
                WHAT + " must be an object like {\"field\": \"embedding\", \"window\": 100} but was [" + parser.currentToken() + "]"
            );
        }
        return PARSER.apply(parser, null);
    }

    private static float[] parseVector(XContentParser parser) throws IOException {
        XContentParser.Token token = parser.currentToken();
        List<Float> values = new ArrayList<>();
        if (token == XContentParser.Token.START_ARRAY) {
            while ((token = parser.nextToken()) == XContentParser.Token.VALUE_NUMBER) {
                values.add(parser.floatValue());
            }
        }
        if (token != XContentParser.Token.END_ARRAY) {
            throw new IllegalArgumentException(
                "[" + HammingQueryBuilder.NAME + "] query: [rerank.vector] must be an array of numbers but found [" + token + "]"
            );
        }
        float[] vector = new float[values.size()];
        for (int i = 0; i < vector.length; i++) {
            vector[i] = values.get(i);
        }
        return vector;
    }

    @Override
    public XContentBuilder toXContent(XContentBuilder builder, Params params) throws IOException {
        builder.startObject();
        builder.field(FIELD.getPreferredName(), field);
        builder.field(WINDOW.getPreferredName(), window);
        if (vector != null) {
            builder.array(VECTOR.getPreferredName(), vector);
        }
        return builder.endObject();
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
