package org.deephash.model;

/**
 * A model's picture input, {@code image} in model.json: side length and per-channel (RGB) normalisation,
 * as {@link ImagePreprocessor} applies them. With an {@code image_encoder} it is that encoder's input.
 */
public record ImageSpec(int size, float[] mean, float[] std) {}
