package org.deephash.compat;

import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.ScorerSupplier;
import org.apache.lucene.search.Weight;

import java.io.IOException;

/**
 * A {@link Weight} that makes one scorer per segment: Lucene 9 asks for {@code scorer(context)}, Lucene 10
 * for a {@code scorerSupplier(context)}; subclasses write {@link #leafScorer} for both.
 */
public abstract class LeafWeight extends Weight {
    protected LeafWeight(Query query) {
        super(query);
    }

    /** The segment's scorer, or null where no document of it matches. */
    protected abstract Scorer leafScorer(LeafReaderContext context) throws IOException;

    @Override
    public final ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
        Scorer scorer = leafScorer(context);
        return scorer == null ? null : new DefaultScorerSupplier(scorer);
    }
}
