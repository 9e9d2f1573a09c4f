package org.deephash.compat;

import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.ConstantScoreWeight;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.ScorerSupplier;

import java.io.IOException;

/** {@link LeafWeight} for a constant score. */
public abstract class LeafConstantScoreWeight extends ConstantScoreWeight {
    protected LeafConstantScoreWeight(Query query, float score) {
        super(query, score);
    }

    /** The segment's scorer, or null where no document of it matches. */
    protected abstract Scorer leafScorer(LeafReaderContext context) throws IOException;

    @Override
    public final ScorerSupplier scorerSupplier(LeafReaderContext context) throws IOException {
        Scorer scorer = leafScorer(context);
        return scorer == null ? null : new DefaultScorerSupplier(scorer);
    }
}
