package org.deephash.hamming;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.BytesRef;

import java.io.IOException;

/**
 * The codes of one field in one segment, as the {@code hamming} query reads them. Keeping the query
 * behind this small interface lets a storage format with a faster layout replace plain
 * {@link BinaryDocValues} without touching the query.
 */
public interface CodeValues {

    /** The documents that have a code, in increasing order. */
    DocIdSetIterator iterator();

    /** Hamming distance between the code of the iterator's current document and the kernel's query. */
    int distance(HammingKernel kernel) throws IOException;

    /** The codes of {@code field} in {@code reader}, or {@code null} if no document in it has one. */
    static CodeValues open(LeafReader reader, String field, int bits) throws IOException {
        BinaryDocValues values = reader.getBinaryDocValues(field);
        return values == null ? null : new BinaryDocValuesCodes(field, values, bits / 8);
    }

    /** Codes read one document at a time through {@link BinaryDocValues}. */
    final class BinaryDocValuesCodes implements CodeValues {
        private final String field;
        private final BinaryDocValues values;
        private final int bytesPerCode;

        BinaryDocValuesCodes(String field, BinaryDocValues values, int bytesPerCode) {
            this.field = field;
            this.values = values;
            this.bytesPerCode = bytesPerCode;
        }

        @Override
        public DocIdSetIterator iterator() {
            return values;
        }

        @Override
        public int distance(HammingKernel kernel) throws IOException {
            BytesRef code = values.binaryValue();
            if (code.length != bytesPerCode) {
                throw new IllegalStateException(
                    "field [" + field + "] holds a code of " + code.length * 8 + " bits in document " + values.docID() + " but the query has "
                        + bytesPerCode * 8 + " bits"
                );
            }
            return kernel.distance(code.bytes, code.offset);
        }
    }
}
