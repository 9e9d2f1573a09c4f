package org.deephash.ingest;

import org.elasticsearch.ElasticsearchParseException;
import org.elasticsearch.ingest.IngestDocument;
import org.elasticsearch.ingest.Processor;
import org.elasticsearch.ingest.TestIngestDocument;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.greaterThanOrEqualTo;
import static org.hamcrest.Matchers.lessThanOrEqualTo;

/**
 * The {@code deep_hash} processor and its factory without a cluster: the bundled model on a direct
 * executor, documents as the ingest service hands them over. The model's own output is the oracle.
 */
public class DeepHashProcessorTests extends ProcessorTestCase {

    private static Processor create(Map<String, Object> config) throws Exception {
        return new DeepHashProcessor.Factory(() -> service).create(randomAlphaOfLength(5), null, new HashMap<>(config));
    }

    public void testModelInfoNamesTheModelItsVersionAndWhen() throws Exception {
        Processor processor = create(Map.of("text_field", "caption", "target_field", "hash", "model_info_field", "model_info"));
        String caption = randomFrom("a red apple", "grinning face", "a cat with a hat");
        long before = System.currentTimeMillis();
        IngestDocument doc = run(processor, Map.of("caption", caption));
        long after = System.currentTimeMillis();

        assertEquals(oracle.hashTexts(List.of(caption)).get(0).codeHex(), doc.getFieldValue("hash", String.class));
        Map<?, ?> info = doc.getFieldValue("model_info", Map.class);
        assertEquals(List.of("name", "version", "hashed_at"), List.copyOf(info.keySet()));
        assertEquals("default", info.get("name"));
        assertEquals(oracle.config().version(), info.get("version"));
        String hashedAt = (String) info.get("hashed_at");
        assertTrue(hashedAt, hashedAt.matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z"));
        long millis = Instant.parse(hashedAt).toEpochMilli();
        assertThat(millis, greaterThanOrEqualTo(before));
        assertThat(millis, lessThanOrEqualTo(after));
    }

    public void testModelInfoMayBeADottedPath() throws Exception {
        Processor processor = create(Map.of("text_field", "caption", "model_info_field", "meta.deep_hash"));
        IngestDocument doc = run(processor, Map.of("caption", "a dog", "meta", new HashMap<>(Map.of("owner", "x"))));
        assertEquals("x", doc.getFieldValue("meta.owner", String.class));
        assertEquals("default", doc.getFieldValue("meta.deep_hash.name", String.class));
        assertEquals(oracle.config().version(), doc.getFieldValue("meta.deep_hash.version", String.class));
    }

    public void testNoModelInfoWithoutTheParameter() throws Exception {
        IngestDocument doc = run(create(Map.of("text_field", "caption")), Map.of("caption", "a dog"));
        assertEquals(Map.of("caption", "a dog", "hash", oracle.hashTexts(List.of("a dog")).get(0).codeHex()), doc.getSource());
    }

    public void testNoModelInfoWhenNothingIsHashed() throws Exception {
        Processor lenient = create(Map.of("text_field", "caption", "ignore_missing", true, "model_info_field", "model_info"));
        IngestDocument doc = run(lenient, Map.of("other", "x"));
        assertEquals(Map.of("other", "x"), doc.getSource());

        // A failed document gets nothing either: the failure goes to on_failure with the source as it was.
        Processor strict = create(Map.of("image_field", "image", "text_field", "caption", "model_info_field", "model_info"));
        Map<String, Object> source = Map.of("image", "%%% not base64", "caption", "a dog");
        IngestDocument document = TestIngestDocument.withDefaultVersion(new HashMap<>(source));
        AtomicReference<Exception> failure = new AtomicReference<>();
        strict.execute(document, (d, e) -> failure.set(e));
        assertThat(failure.get().getMessage(), containsString("field [image] is not valid base64"));
        assertEquals(source, document.getSource());
    }

    public void testModelInfoFieldIsCheckedWhenThePipelineIsCreated() {
        Map<String, String> clashes = Map.of(
            "hash", "[model_info_field] [hash] is the same field as [target_field] [hash]",
            "caption", "[model_info_field] [caption] is the same field as [text_field] [caption]",
            "codes", "[model_info_field] [codes] is an object holding [image_target_field] [codes.image]",
            "embedding.info", "[model_info_field] [embedding.info] is inside [embedding_field] [embedding]"
        );
        clashes.forEach((field, message) -> {
            ElasticsearchParseException e = expectThrows(
                ElasticsearchParseException.class,
                () -> create(Map.of(
                    "image_field", "image",
                    "text_field", "caption",
                    "target_field", "hash",
                    "image_target_field", "codes.image",
                    "embedding_field", "embedding",
                    "model_info_field", field
                ))
            );
            assertThat(field, e.getMessage(), containsString(message));
            assertThat(field, e.getMessage(), containsString("e.g. [model_info]"));
        });
        ElasticsearchParseException e = expectThrows(
            ElasticsearchParseException.class,
            () -> create(Map.of("text_field", "caption", "model_info_field", " "))
        );
        assertThat(e.getMessage(), containsString("[model_info_field] must name a field, e.g. [model_info], but was empty"));
        e = expectThrows(ElasticsearchParseException.class, () -> create(Map.of("text_field", "caption", "model_info_field", 42)));
        assertThat(e.getMessage(), containsString("[model_info_field] property isn't a string, but of type [java.lang.Integer]"));
    }

    /** A prefix that is not a whole path step is another field. */
    public void testModelInfoBesideTheCode() throws Exception {
        Processor processor = create(Map.of("text_field", "caption", "target_field", "hash", "model_info_field", "hash_info"));
        IngestDocument doc = run(processor, Map.of("caption", "a dog"));
        assertEquals("default", doc.getFieldValue("hash_info.name", String.class));
    }
}
