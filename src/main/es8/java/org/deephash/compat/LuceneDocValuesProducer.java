package org.deephash.compat;

import org.apache.lucene.codecs.DocValuesProducer;
import org.apache.lucene.index.FieldInfo;

/**
 * A {@link DocValuesProducer} that hands some fields to another producer. Lucene 10 asks each field for a
 * skip index too ({@code getSkipper}): that question goes to the same producer as the field's values.
 */
public abstract class LuceneDocValuesProducer extends DocValuesProducer {
    /** The producer that reads {@code field}'s values, or null where this one does. */
    protected abstract DocValuesProducer delegateFor(FieldInfo field);
}
