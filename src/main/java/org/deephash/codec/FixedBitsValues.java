package org.deephash.codec;

/** Implemented by doc values that {@link FixedBitsDocValuesFormat} serves, so that a scan can find the bulk reader. */
public interface FixedBitsValues {
    FixedBitsCodes fixedBitsCodes();
}
