package org.deephash.ingest;

import org.elasticsearch.ElasticsearchParseException;
import org.elasticsearch.ingest.IngestDocument;
import org.elasticsearch.ingest.Processor;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

/**
 * {@link DeepHashProcessor.Factory} as ingest-common tests each of its processors' factories: defaults, every
 * option, each required or conflicting option refused with a message naming it, every wrong type, and the
 * options read off the configuration (what is left over, Elasticsearch reports as unknown).
 */
public class DeepHashProcessorFactoryTests extends ProcessorTestCase {

    private static Processor create(String tag, Map<String, Object> config) {
        return new DeepHashProcessor.Factory(() -> service).create(tag, "a description", config);
    }

    private static ElasticsearchParseException refused(Map<String, Object> config) {
        return expectThrows(ElasticsearchParseException.class, () -> create("t", new HashMap<>(config)));
    }

    public void testDefaults() throws Exception {
        Map<String, Object> config = new HashMap<>(Map.of("text_field", "caption"));
        String tag = randomAlphaOfLength(6);
        Processor p = create(tag, config);
        assertEquals(DeepHashProcessor.TYPE, p.getType());
        assertEquals(tag, p.getTag());
        assertEquals("a description", p.getDescription());
        assertTrue("every option read off the configuration", config.isEmpty());
        IngestDocument doc = run(p, Map.of("caption", "a cat"));
        // model "default", target_field "hash", nothing else written
        assertEquals(oracle.hashTexts(List.of("a cat")).get(0).codeHex(), doc.getFieldValue("hash", String.class));
        assertEquals(Map.of("caption", "a cat", "hash", doc.getFieldValue("hash", String.class)), doc.getSource());
    }

    public void testEveryOption() throws Exception {
        Map<String, Object> config = new HashMap<>();
        config.put("model", "default");
        config.put("image_field", "img");
        config.put("text_field", "caption");
        config.put("target_field", "codes.fused");
        config.put("image_target_field", "codes.image");
        config.put("text_target_field", "codes.text");
        config.put("embedding_field", "vec");
        config.put("model_info_field", "info");
        config.put("remove_image", true);
        config.put("ignore_missing", true);
        Processor p = create("t", config);
        assertTrue("every option read off the configuration: " + config, config.isEmpty());
        IngestDocument none = run(p, Map.of("other", 1));
        assertEquals("ignore_missing: a document without inputs passes unhashed", Map.of("other", 1), none.getSource());
    }

    public void testAnInputFieldIsRequired() {
        ElasticsearchParseException e = refused(Map.of("target_field", "h"));
        assertThat(e.getMessage(), containsString("[image_field] or [text_field] is required"));
        assertEquals(List.of("image_field"), e.getMetadata("es.property_name"));
    }

    public void testPerModalityTargetsNeedTheirInput() {
        assertThat(refused(Map.of("text_field", "c", "image_target_field", "x")).getMessage(), containsString("[image_target_field] needs [image_field]"));
        assertThat(refused(Map.of("image_field", "i", "text_target_field", "x")).getMessage(), containsString("[text_target_field] needs [text_field]"));
    }

    public void testAnUnknownModelIsRefusedWhenThePipelineIsCreated() {
        ElasticsearchParseException e = refused(Map.of("text_field", "c", "model", "no-such-model"));
        assertThat(e.getMessage(), containsString("[model]"));
        assertThat(e.getMessage(), containsString("no-such-model"));
        e = refused(Map.of("text_field", "c", "model", "../etc"));
        assertThat(e.getMessage(), containsString("invalid model name [../etc]"));
    }

    public void testWrongTypesAreRefusedByName() {
        for (String option : List.of("model", "image_field", "text_field", "target_field", "image_target_field", "text_target_field",
            "embedding_field", "model_info_field")) {
            Map<String, Object> config = new HashMap<>(Map.of("text_field", "c", "image_field", "i"));
            config.put(option, randomFrom(42, List.of("a"), Map.of("a", "b"), true));
            ElasticsearchParseException e = refused(config);
            assertThat(option, e.getMessage(), containsString("[" + option + "]"));
        }
        for (String option : List.of("remove_image", "ignore_missing")) {
            Map<String, Object> config = new HashMap<>(Map.of("text_field", "c"));
            config.put(option, randomFrom("yes", 1, List.of(true)));
            ElasticsearchParseException e = refused(config);
            assertThat(option, e.getMessage(), containsString("[" + option + "]"));
        }
    }

    public void testModelInfoMayNotClashWithAnotherField() {
        ElasticsearchParseException e = refused(Map.of("text_field", "c", "target_field", "h", "model_info_field", "h"));
        assertThat(e.getMessage(), containsString("[h] is the same field as [target_field] [h]"));
        e = refused(Map.of("text_field", "meta.caption", "model_info_field", "meta"));
        assertThat(e.getMessage(), containsString("[meta] is an object holding [text_field] [meta.caption]"));
    }
}
