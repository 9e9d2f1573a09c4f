package org.deephash.compat;

import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;

/** A {@link Scorer}: Lucene 9 keeps the weight that made it, Lucene 10 no longer does. */
public abstract class LeafScorer extends Scorer {
    protected LeafScorer(Weight weight) {}
}
