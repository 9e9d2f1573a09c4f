package org.deephash.model;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A frozen picture encoder that a model names in {@code image_encoder} (an exported CLIP or ResNet image
 * tower, say, or the bundled model's shared trunk): one ONNX Runtime session from the pictures
 * {@link ImagePreprocessor} makes, float32 [N, 3, size, size], to one feature row of {@code dimensions}
 * floats a picture. The model's heads are other graphs that take these rows. For a user's collection the
 * training side never runs this graph itself (Debian has no Python ONNX Runtime), it reads the rows that
 * {@link Features} writes with this same class, so training and ingest see the same numbers; the bundled
 * model's trunk is cut from its PyTorch towers by {@code model/export.py}, and its golden vectors check
 * trunk and heads together.
 *
 * <p>The encoder's output may be
 * <ul>
 *   <li>float32 [N, D]: the features as they are, or
 *   <li>float32 [N, D, H, W]: a convolutional feature map, which is averaged over H and W here (global
 *       average pooling, in double, rounded to float once), so that a backbone cut before its pooling
 *       layer needs no edit to be used.
 * </ul>
 * D must be {@code dimensions}. The graph must take exactly one input, the one {@code image_encoder.input}
 * names. Both are checked against the graph's declared shapes when the session is created, and the actual
 * shape once more after each run (a dimension the graph leaves open is only known then). Thread-safe: the
 * session is shared, as ONNX Runtime allows.
 */
public final class ImageEncoder implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String label;
    private final String input;
    private final String output;
    private final int dimensions;
    private final int size;

    /**
     * A session over {@code onnxModel}.
     *
     * @param label how messages name the file: {@code [image-encoder.onnx] of model [name]}, or a path
     * @param size  the side of the pictures it takes ({@code image.size})
     * @throws IllegalArgumentException when the graph's inputs or outputs are not what {@code spec} says
     */
    public ImageEncoder(OrtEnvironment env, byte[] onnxModel, String label, ImageEncoderSpec spec, int size, OrtSession.SessionOptions options)
        throws OrtException {
        this.env = env;
        this.label = label;
        this.input = spec.input();
        this.output = spec.output();
        this.dimensions = spec.dimensions();
        this.size = size;
        OrtSession created;
        try {
            created = env.createSession(onnxModel, options);
        } catch (OrtException e) {
            throw new IllegalArgumentException(label + " cannot be loaded by ONNX Runtime: " + e.getMessage() + "; expected an ONNX model", e);
        }
        this.session = created;
        try {
            checkSignature();
        } catch (RuntimeException | OrtException e) {
            try {
                session.close();
            } catch (OrtException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    private void checkSignature() throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        if (inputs.containsKey(input) == false) {
            throw new IllegalArgumentException(
                label + " has no input [" + input + "] (named in [image_encoder.input]): its inputs are " + new TreeSet<>(inputs.keySet())
            );
        }
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(
                label + " takes the inputs " + new TreeSet<>(inputs.keySet()) + ": expected one input, the pictures [" + input
                    + "] (image_encoder.input); export the image tower alone"
            );
        }
        TensorInfo in = tensor(inputs.get(input), "input");
        long[] expectedIn = { -1, 3, size, size };
        if (in.type != OnnxJavaType.FLOAT || compatible(in.getShape(), expectedIn) == false) {
            throw new IllegalArgumentException(
                label + " has the input [" + input + "] of type " + in.type + " and shape " + shape(in.getShape()) + " but the pictures are FLOAT "
                    + shape(expectedIn) + " ([image.size] is " + size + ")"
            );
        }
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        if (outputs.containsKey(output) == false) {
            throw new IllegalArgumentException(
                label + " has no output [" + output + "] (named in [image_encoder.output]): its outputs are " + new TreeSet<>(outputs.keySet())
            );
        }
        TensorInfo out = tensor(outputs.get(output), "output");
        long[] s = out.getShape();
        boolean ok = out.type == OnnxJavaType.FLOAT && (s.length == 2 || s.length == 4) && (s[1] < 0 || s[1] == dimensions);
        if (ok == false) {
            throw new IllegalArgumentException(
                label + " has the output [" + output + "] of type " + out.type + " and shape " + shape(s) + ": expected FLOAT [N, " + dimensions
                    + "] or [N, " + dimensions + ", H, W] (averaged over H and W), " + dimensions + " being [image_encoder.dimensions]"
            );
        }
    }

    private TensorInfo tensor(NodeInfo node, String kind) {
        if (node.getInfo() instanceof TensorInfo info) {
            return info;
        }
        throw new IllegalArgumentException(label + " has a non-tensor " + kind + " [" + node.getName() + "]: expected a tensor");
    }

    /** Every dimension fixed on both sides is equal (-1: any). */
    private static boolean compatible(long[] shape, long[] expected) {
        if (shape.length != expected.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (expected[i] >= 0 && shape[i] >= 0 && expected[i] != shape[i]) {
                return false;
            }
        }
        return true;
    }

    /** A shape as model.json's messages write it, open dimensions as N, H, W or ?. */
    private static String shape(long[] shape) {
        String[] names = shape.length == 4 ? new String[] { "N", "C", "H", "W" } : new String[] { "N", "?", "?", "?", "?", "?" };
        String[] parts = new String[shape.length];
        for (int i = 0; i < shape.length; i++) {
            parts[i] = shape[i] < 0 ? (i < names.length ? names[i] : "?") : Long.toString(shape[i]);
        }
        return "[" + String.join(", ", parts) + "]";
    }

    /** The width of a feature row: {@code image_encoder.dimensions}. */
    public int dimensions() {
        return dimensions;
    }

    /** The side of the pictures it takes. */
    public int size() {
        return size;
    }

    /**
     * The features of {@code n} preprocessed pictures ({@code n * 3 * size * size} floats, CHW each): {@code n}
     * rows of {@link #dimensions()} floats, one after the other.
     *
     * @throws IllegalStateException when the graph gives another shape than it declared, or a value that is not finite
     */
    public float[] encode(float[] pixels, int n) throws OrtException {
        if (pixels.length != (long) n * 3 * size * size) {
            throw new IllegalArgumentException(
                "expected " + n + " pictures of 3x" + size + "x" + size + " floats (" + ((long) n * 3 * size * size) + ") but got " + pixels.length
            );
        }
        if (n == 0) {
            return new float[0];
        }
        try (
            OnnxTensor tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(pixels), new long[] { n, 3, size, size });
            OrtSession.Result result = session.run(Map.of(input, tensor), Set.of(output))
        ) {
            OnnxValue value = result.get(output).orElse(null);
            if (value instanceof OnnxTensor == false) {
                throw new IllegalStateException(label + " gave no tensor [" + output + "]");
            }
            OnnxTensor features = (OnnxTensor) value;
            long[] s = features.getInfo().getShape();
            boolean ok = (s.length == 2 || s.length == 4) && s[0] == n && s[1] == dimensions && (s.length == 2 || s[2] * s[3] > 0);
            if (ok == false) {
                throw new IllegalStateException(
                    label + " gave [" + output + "] of shape " + Arrays.toString(s) + " for " + n + " pictures: expected [" + n + ", " + dimensions
                        + "] or [" + n + ", " + dimensions + ", H, W] with H and W at least 1"
                );
            }
            float[] rows = s.length == 2 ? read(features.getFloatBuffer(), n * dimensions) : pool(features.getFloatBuffer(), n, (int) (s[2] * s[3]));
            for (int i = 0; i < rows.length; i++) {
                if (Float.isFinite(rows[i]) == false) {
                    throw new IllegalStateException(
                        label + " gave a non-finite value [" + rows[i] + "] in [" + output + "] for picture [" + (i / dimensions) + "]"
                    );
                }
            }
            return rows;
        }
    }

    private static float[] read(FloatBuffer buffer, int length) {
        float[] values = new float[length];
        buffer.get(values);
        return values;
    }

    /** The mean of each [H, W] plane of a [N, D, H, W] map. */
    private float[] pool(FloatBuffer map, int n, int plane) {
        float[] rows = new float[n * dimensions];
        for (int row = 0; row < rows.length; row++) {
            int from = row * plane;
            double sum = 0;
            for (int p = 0; p < plane; p++) {
                sum += map.get(from + p);
            }
            rows[row] = (float) (sum / plane);
        }
        return rows;
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
