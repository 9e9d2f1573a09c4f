package org.deephash.model;

import java.nio.file.Path;
import java.util.Map;

/**
 * The frozen encoders of a model without its heads: what {@link Features} runs to write the rows a head is
 * trained on. Read from a JSON file with model.json's encoder blocks, by the same parser as model.json:
 *
 * <pre>
 * {
 *   "image": {"size": 224, "mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]},
 *   "image_encoder": {"file": "image-encoder.onnx", "input": "pixels", "output": "features", "dimensions": 1632},
 *   "text_encoder": {"type": "minilm", ...} or {"type": "onnx", "file": ...}, "tokenizer": {"type": "wordpiece", ...},
 *   "sha256": {"image-encoder.onnx": "..."}
 * }
 * </pre>
 *
 * Every block is optional, but {@code image_encoder} needs {@code image}. Unlike in model.json a file may lie
 * anywhere: an absolute path, or one relative to the spec's directory (training writes the spec in its own
 * work directory and the encoder may sit elsewhere); {@code sha256} is optional, and each file it lists
 * must match. A model.json is a spec too: its other fields are ignored.
 *
 * @param directory   the spec's directory, against which relative files are resolved
 * @param file        the spec itself
 * @param image       the picture settings, or null
 * @param imageEncoder the frozen picture encoder, or null: the features of a picture are its pixels
 * @param textEncoder the text tower's kind, or null when the spec names none
 * @param miniLm      the MiniLM encoder's settings when {@code textEncoder} is MiniLM, else null
 * @param onnxTextEncoder the sentence encoder's settings when {@code textEncoder} is ONNX, else null
 * @param sha256      the recorded checksums, all verified
 */
public record EncoderSpec(
    Path directory,
    Path file,
    ImageSpec image,
    ImageEncoderSpec imageEncoder,
    TextEncoder textEncoder,
    MiniLmSpec miniLm,
    OnnxTextEncoderSpec onnxTextEncoder,
    Map<String, String> sha256
) {
    /** Reads and checks a spec file and the files it names. */
    public static EncoderSpec load(Path specFile) {
        return ModelConfigParser.parseSpec(specFile);
    }

    /** Where a file named in the spec is: absolute, or relative to the spec's directory. */
    public Path resolve(String name) {
        return directory.resolve(name).normalize();
    }
}
