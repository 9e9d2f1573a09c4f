package org.deephash.compat;

import org.apache.lucene.search.ConstantScoreScorer;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;
import org.apache.lucene.store.ChecksumIndexInput;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;

import java.io.IOException;

/** Lucene 9.12 calls whose signatures changed in Lucene 10. */
public final class LuceneCompat {
    private LuceneCompat() {}

    /** A metadata file opened for reading with its checksum checked at the end. */
    public static ChecksumIndexInput openChecksumInput(Directory directory, String name, IOContext context) throws IOException {
        return directory.openChecksumInput(name, context);
    }

    /** Every document of {@code iterator} with the same score. */
    public static Scorer constantScoreScorer(Weight weight, float score, ScoreMode scoreMode, DocIdSetIterator iterator) {
        return new ConstantScoreScorer(weight, score, scoreMode, iterator);
    }
}
