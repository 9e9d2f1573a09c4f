package org.deephash.hamming;

import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.Weight;
import org.deephash.compat.LeafConstantScoreWeight;
import org.deephash.compat.LuceneCompat;

import java.io.IOException;
import java.util.Arrays;
import java.util.Objects;

/**
 * Lin et al.'s coarse-to-fine search on one index (a shard): the {@code window} best documents of a
 * coarse query (the Hamming ranking) are re-scored by a fine query (the similarity of a stored dense
 * vector to the query's embedding), and only they match. A candidate that the fine query does not
 * match (a document without a vector) keeps a score of 0, after every re-scored candidate.
 *
 * <p>The candidates are found when the query is rewritten against a searcher, so the rewritten query
 * belongs to that searcher's reader and to no other.
 */
public final class RerankQuery extends Query {
    private final Query coarse;
    private final Query fine;
    private final int window;

    public RerankQuery(Query coarse, Query fine, int window) {
        if (window < 1) {
            throw new IllegalArgumentException("the re-rank window must be at least 1 but was [" + window + "]");
        }
        this.coarse = Objects.requireNonNull(coarse);
        this.fine = Objects.requireNonNull(fine);
        this.window = window;
    }

    public Query coarse() {
        return coarse;
    }

    public Query fine() {
        return fine;
    }

    public int window() {
        return window;
    }

    @Override
    public Query rewrite(IndexSearcher searcher) throws IOException {
        TopDocs top = searcher.search(coarse, window);
        int[] docs = new int[top.scoreDocs.length];
        int i = 0;
        for (ScoreDoc sd : top.scoreDocs) {
            docs[i++] = sd.doc;
        }
        Arrays.sort(docs);
        return new BooleanQuery.Builder().add(new DocSetQuery(docs, searcher.getIndexReader()), BooleanClause.Occur.FILTER)
            .add(fine, BooleanClause.Occur.SHOULD)
            .build();
    }

    @Override
    public void visit(QueryVisitor visitor) {
        QueryVisitor v = visitor.getSubVisitor(BooleanClause.Occur.MUST, this);
        coarse.visit(v);
        fine.visit(v);
    }

    @Override
    public String toString(String field) {
        return "rerank(" + coarse.toString(field) + ", by " + fine.toString(field) + ", window " + window + ")";
    }

    @Override
    public boolean equals(Object o) {
        return sameClassAs(o) && coarse.equals(((RerankQuery) o).coarse) && fine.equals(((RerankQuery) o).fine) && window == ((RerankQuery) o).window;
    }

    @Override
    public int hashCode() {
        return Objects.hash(classHash(), coarse, fine, window);
    }

    /** Matches a fixed, sorted set of doc ids of one reader with a constant score; never cached. */
    static final class DocSetQuery extends Query {
        private final int[] docs;
        private final Object readerKey;

        DocSetQuery(int[] sortedDocs, IndexReader reader) {
            this.docs = sortedDocs;
            this.readerKey = reader.getContext().id();
        }

        @Override
        public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost) {
            if (searcher.getIndexReader().getContext().id() != readerKey) {
                throw new IllegalStateException("the re-rank candidates were found on another reader than the one searched");
            }
            return new LeafConstantScoreWeight(this, boost) {
                @Override
                protected Scorer leafScorer(LeafReaderContext context) {
                    int from = lowerBound(context.docBase);
                    int to = lowerBound(context.docBase + context.reader().maxDoc());
                    if (from == to) {
                        return null;
                    }
                    return LuceneCompat.constantScoreScorer(this, score(), scoreMode, new SliceIterator(docs, from, to, context.docBase));
                }

                @Override
                public boolean isCacheable(LeafReaderContext ctx) {
                    return false;
                }
            };
        }

        private int lowerBound(int doc) {
            int i = Arrays.binarySearch(docs, doc);
            return i >= 0 ? i : -i - 1;
        }

        @Override
        public void visit(QueryVisitor visitor) {
            visitor.visitLeaf(this);
        }

        @Override
        public String toString(String field) {
            return "candidates(" + docs.length + ")";
        }

        @Override
        public boolean equals(Object o) {
            return sameClassAs(o) && readerKey == ((DocSetQuery) o).readerKey && Arrays.equals(docs, ((DocSetQuery) o).docs);
        }

        @Override
        public int hashCode() {
            return Objects.hash(classHash(), System.identityHashCode(readerKey), Arrays.hashCode(docs));
        }
    }

    /** Iterates {@code docs[from..to)}, global ids made leaf-relative by subtracting {@code docBase}. */
    private static final class SliceIterator extends DocIdSetIterator {
        private final int[] docs;
        private final int from;
        private final int to;
        private final int docBase;
        private int i;
        private int doc = -1;

        SliceIterator(int[] docs, int from, int to, int docBase) {
            this.docs = docs;
            this.from = from;
            this.to = to;
            this.docBase = docBase;
            this.i = from - 1;
        }

        @Override
        public int docID() {
            return doc;
        }

        @Override
        public int nextDoc() {
            i++;
            return doc = i < to ? docs[i] - docBase : NO_MORE_DOCS;
        }

        @Override
        public int advance(int target) {
            // target may be NO_MORE_DOCS: docBase + target would overflow.
            if (i + 1 >= to || target > docs[to - 1] - docBase) {
                i = to;
                return doc = NO_MORE_DOCS;
            }
            int j = Arrays.binarySearch(docs, Math.max(i + 1, from), to, target + docBase);
            i = (j >= 0 ? j : -j - 1);
            return doc = i < to ? docs[i] - docBase : NO_MORE_DOCS;
        }

        @Override
        public long cost() {
            return to - from;
        }
    }
}
