package org.deephash.model;

/**
 * A model's frozen picture encoder, {@code image_encoder} in model.json (see {@link ImageEncoder}):
 * its ONNX file, relative to the model directory, the names of its input and output in that graph,
 * and the width of the feature row it gives a picture.
 */
public record ImageEncoderSpec(String file, String input, String output, int dimensions) {}
