package org.deephash.codec;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.tests.index.BaseDocValuesFormatTestCase;
import org.apache.lucene.tests.util.TestUtil;

/**
 * Lucene's own doc-values conformance suite, with every field written through
 * {@link FixedBitsDocValuesFormat}: fixed-width binary fields take the format's own layout, the rest
 * its fallback, so both paths and their mix in one segment are exercised.
 */
public class FixedBitsDocValuesFormatTests extends BaseDocValuesFormatTestCase {
    private final Codec codec = TestUtil.alwaysDocValuesFormat(new FixedBitsDocValuesFormat());

    @Override
    protected Codec getCodec() {
        return codec;
    }
}
