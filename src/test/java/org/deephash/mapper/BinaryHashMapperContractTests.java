package org.deephash.mapper;

import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.util.BytesRef;
import org.deephash.DeepHashPlugin;
import org.deephash.hamming.HashCode;
import org.elasticsearch.index.mapper.DocumentMapper;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.index.mapper.MapperService;
import org.elasticsearch.index.mapper.MapperTestCase;
import org.elasticsearch.index.mapper.ParsedDocument;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.xcontent.XContentBuilder;
import org.junit.AssumptionViolatedException;

import java.io.IOException;
import java.util.Collection;
import java.util.List;

/**
 * Elasticsearch's standard checks for a field mapper ({@link MapperTestCase}: parameters and their updates and
 * conflicts, serialization and merging of the mapping, {@code meta}, {@code exists}, {@code null}, malformed
 * values with and without {@code ignore_malformed}, fetching from source against doc values, empty and blank
 * names, field counts...), run against {@code binary_hash}; the field's own behaviour is in
 * {@link BinaryHashFieldMapperTests}.
 */
public class BinaryHashMapperContractTests extends MapperTestCase {

    @Override
    protected Collection<? extends Plugin> getPlugins() {
        return List.of(new DeepHashPlugin());
    }

    @Override
    protected void minimalMapping(XContentBuilder b) throws IOException {
        b.field("type", BinaryHashFieldMapper.CONTENT_TYPE).field("bits", 64);
    }

    @Override
    protected Object getSampleValueForDocument() {
        return HashCode.toHex(randomByteArrayOfLength(8), 0, 8);
    }

    @Override
    protected boolean supportsIgnoreMalformed() {
        return true;
    }

    @Override
    protected List<ExampleMalformedValue> exampleMalformedValues() {
        return List.of(
            exampleMalformedValue("abc").errorMatches("expected 16 hex characters but got 3"),
            exampleMalformedValue("zz0123456789abcd").errorMatches("binary_hash"),
            exampleMalformedValue(b -> b.value(42)).errorMatches("expected a hex string or an array of 0/1 values"),
            exampleMalformedValue(b -> b.startArray().value(1).value(0).endArray()).errorMatches("expected 64 values of 0/1 but got 2")
        );
    }

    @Override
    protected void registerParameters(ParameterChecker checker) throws IOException {
        // A code width cannot change: codes of another width already in the index could never be compared.
        checker.registerConflictCheck(
            "bits",
            fieldMapping(b -> b.field("type", BinaryHashFieldMapper.CONTENT_TYPE).field("bits", 64)),
            fieldMapping(b -> b.field("type", BinaryHashFieldMapper.CONTENT_TYPE).field("bits", 128))
        );
        // Documents indexed before would have no bits sub-field.
        checker.registerConflictCheck("bits_field", b -> b.field("bits_field", true));
    }

    @Override
    protected Object generateRandomInputValue(MappedFieldType ft) {
        return getSampleValueForDocument();
    }

    @Override
    protected void assertExistsQuery(MappedFieldType fieldType, org.apache.lucene.search.Query query, org.elasticsearch.index.mapper.LuceneDocument fields) {
        // exists on a doc-values-only field is a FieldExistsQuery over its doc values.
        assertEquals("FieldExistsQuery [field=field]", query.toString());
        assertNotNull(fields.getField("field"));
    }

    /** No {@code store}: the code is in doc values, and in {@code _source} as sent. */
    @Override
    protected boolean supportsStoredFields() {
        return false;
    }

    /**
     * Searchable, by {@code hamming} and {@code term} over its doc values, but not text: no analyzer, no
     * postings ({@code TextSearchInfo.NONE}), which the base check would only accept from an unindexed field.
     */
    @Override
    protected void assertSearchable(MappedFieldType fieldType) {
        assertTrue(fieldType.isSearchable());
        assertTrue(fieldType.hasDocValues());
        assertSame(org.elasticsearch.index.mapper.TextSearchInfo.NONE, fieldType.getTextSearchInfo());
    }

    /**
     * The base class writes these documents with Elasticsearch's codec and its native zstd stored fields, which
     * Elasticsearch does not load when the tests run as root (the JNA options of pom.xml): skipped there.
     */
    private static boolean nativeZstd() {
        return org.elasticsearch.nativeaccess.NativeAccess.instance().getZstd() != null;
    }

    @Override
    protected void assertFetch(MapperService mapperService, String field, Object value, String format) throws IOException {
        assumeTrue("needs Elasticsearch's native zstd, off when the tests run as root", nativeZstd());
        super.assertFetch(mapperService, field, value, format);
    }

    @Override
    protected boolean supportsSearchLookup() {
        // testIndexTimeFieldData writes through the same codec as assertFetch.
        return nativeZstd();
    }

    /** One code per document and field: several are refused, naming the field. */
    @Override
    protected void assertFetchMany(MapperService mapperService, String field, Object value, String format, int count) throws IOException {
        Exception e = expectThrows(Exception.class, () -> mapperService.documentMapper().parse(source(b -> b.field(field, value))));
        assertThat(e.getMessage() + " / " + e.getCause(), org.hamcrest.Matchers.anyOf(
            org.hamcrest.Matchers.containsString("takes one code per document"),
            org.hamcrest.Matchers.containsString("a document holds one code per field")
        ));
    }

    @Override
    protected SyntheticSourceSupport syntheticSourceSupport(boolean ignoreMalformed) {
        throw new AssumptionViolatedException("binary_hash does not support synthetic _source");
    }

    @Override
    protected IngestScriptSupport ingestScriptSupport() {
        throw new AssumptionViolatedException("binary_hash has no script support");
    }

    /** The code lands in binary doc values, its bytes as parsed from hex. */
    public void testTheCodeIsADocValue() throws IOException {
        DocumentMapper mapper = createDocumentMapper(fieldMapping(this::minimalMapping));
        String hex = (String) getSampleValueForDocument();
        ParsedDocument doc = mapper.parse(source(b -> b.field("field", hex)));
        IndexableField field = doc.rootDoc().getField("field");
        assertNotNull(field);
        BytesRef bytes = field.binaryValue();
        assertEquals(hex, HashCode.toHex(bytes.bytes, bytes.offset, bytes.length));
        assertNull(BinaryDocValues.class.getSimpleName() + " only: no postings", field.fieldType().indexOptions() == org.apache.lucene.index.IndexOptions.NONE ? null : "indexed");
    }
}
