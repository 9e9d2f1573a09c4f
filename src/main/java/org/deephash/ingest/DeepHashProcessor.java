package org.deephash.ingest;

import org.deephash.DeepHashService;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.ingest.AbstractProcessor;
import org.elasticsearch.ingest.ConfigurationUtils;
import org.elasticsearch.ingest.IngestDocument;
import org.elasticsearch.ingest.Processor;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * The {@code deep_hash} ingest processor: hashes a document's image (base64) and caption (a string or
 * an array of strings, joined with ", " as the model was trained) with a model, and writes the hex
 * code of the fused image+caption tower (or of the one input there is) to {@code target_field};
 * optionally the per-modality codes (for cross-modal search) and the embedding (for re-ranking).
 *
 * <p>It is asynchronous: the document is hashed on the {@code deep_hash} thread pool, so a bulk
 * request's documents are hashed on every core while the write thread goes on to the next one.
 * Anything wrong with a document (missing inputs, bad base64, an image that is too large, corrupt or
 * in another format, a text that is too long) fails that document with a 400 that names the field,
 * which {@code on_failure} can handle; nothing is written for it.
 */
public final class DeepHashProcessor extends AbstractProcessor {
    public static final String TYPE = "deep_hash";

    private final DeepHashService service;
    private final String model;
    private final String imageField;
    private final String textField;
    private final String targetField;
    private final String imageTargetField;
    private final String textTargetField;
    private final String embeddingField;
    private final boolean removeImage;
    private final boolean ignoreMissing;

    DeepHashProcessor(
        String tag,
        String description,
        DeepHashService service,
        String model,
        String imageField,
        String textField,
        String targetField,
        String imageTargetField,
        String textTargetField,
        String embeddingField,
        boolean removeImage,
        boolean ignoreMissing
    ) {
        super(tag, description);
        this.service = service;
        this.model = model;
        this.imageField = imageField;
        this.textField = textField;
        this.targetField = targetField;
        this.imageTargetField = imageTargetField;
        this.textTargetField = textTargetField;
        this.embeddingField = embeddingField;
        this.removeImage = removeImage;
        this.ignoreMissing = ignoreMissing;
    }

    @Override
    public String getType() {
        return TYPE;
    }

    @Override
    public boolean isAsync() {
        return true;
    }

    @Override
    public void execute(IngestDocument document, BiConsumer<IngestDocument, Exception> handler) {
        Object imageValue;
        Object textValue;
        try {
            imageValue = imageField == null ? null : document.getFieldValue(imageField, Object.class, true);
            textValue = textField == null ? null : document.getFieldValue(textField, Object.class, true);
        } catch (IllegalArgumentException e) {
            handler.accept(null, e);
            return;
        }
        if (isMissing(imageValue) && isMissing(textValue)) {
            if (ignoreMissing) {
                handler.accept(document, null);
            } else {
                handler.accept(null, service.counted(new InputException(InputException.Kind.MISSING_INPUT, "the document has " + missingInputs() + ": nothing to hash")));
            }
            return;
        }
        try {
            service.executor().execute(() -> {
                try {
                    hash(document, imageValue, textValue);
                } catch (Exception e) {
                    handler.accept(null, e);
                    return;
                }
                handler.accept(document, null);
            });
        } catch (RuntimeException rejected) {
            handler.accept(null, rejected);
        }
    }

    private static boolean isMissing(Object value) {
        return value == null || (value instanceof String s && s.isBlank()) || (value instanceof List<?> l && l.isEmpty());
    }

    private String missingInputs() {
        List<String> fields = new ArrayList<>();
        if (imageField != null) {
            fields.add("no image in [" + imageField + "]");
        }
        if (textField != null) {
            fields.add("no text in [" + textField + "]");
        }
        return String.join(" and ", fields) + (ignoreMissing ? "" : " (set [ignore_missing] to true to index such documents unhashed)");
    }

    private void hash(IngestDocument document, Object imageValue, Object textValue) {
        byte[] image = null;
        String text = null;
        if (isMissing(imageValue) == false) {
            if (imageValue instanceof String == false) {
                throw service.wrongType("field [" + imageField + "]", imageValue, "a string of base64 image bytes");
            }
            image = service.decodeImage((String) imageValue, "field [" + imageField + "]");
        }
        if (isMissing(textValue) == false) {
            text = service.caption(textValue, "field [" + textField + "]");
        }
        EntryPoint mainEntry = DeepHashService.entryPoint(image, text);
        Set<EntryPoint> wanted = EnumSet.of(mainEntry);
        if (imageTargetField != null && image != null) {
            wanted.add(EntryPoint.IMAGE);
        }
        if (textTargetField != null && text != null) {
            wanted.add(EntryPoint.TEXT);
        }
        Map<EntryPoint, HashOutput> outputs = run(wanted, image, text);
        HashOutput main = outputs.get(mainEntry);
        document.setFieldValue(targetField, main.codeHex());
        if (embeddingField != null) {
            List<Float> embedding = new ArrayList<>(main.embedding().length);
            for (float v : main.embedding()) {
                embedding.add(v);
            }
            document.setFieldValue(embeddingField, embedding);
        }
        if (imageTargetField != null && image != null) {
            document.setFieldValue(imageTargetField, outputs.get(EntryPoint.IMAGE).codeHex());
        }
        if (textTargetField != null && text != null) {
            document.setFieldValue(textTargetField, outputs.get(EntryPoint.TEXT).codeHex());
        }
        if (removeImage && image != null) {
            document.removeField(imageField);
        }
        service.stats().hashed(HashStats.Caller.INGEST, 1);
    }

    private Map<EntryPoint, HashOutput> run(Set<EntryPoint> entries, byte[] image, String text) {
        try {
            return service.hashEach(model, image, text, entries);
        } catch (InputException e) {
            String field = e.kind() == InputException.Kind.TEXT_TOO_LONG || image == null ? textField : imageField;
            throw e.kind() == InputException.Kind.UNKNOWN_MODEL || e.kind() == InputException.Kind.MODEL_UNAVAILABLE
                ? e
                : e.withPrefix("field [" + field + "]: ");
        }
    }

    /** Reads and checks the processor's settings; the model must exist and take the inputs configured. */
    public static final class Factory implements Processor.Factory {
        private final Supplier<DeepHashService> service;

        public Factory(Supplier<DeepHashService> service) {
            this.service = service;
        }

        @Override
        public Processor create(Map<String, Processor.Factory> factories, String tag, String description, Map<String, Object> config) {
            String model = ConfigurationUtils.readStringProperty(TYPE, tag, config, "model", ModelRegistry.DEFAULT_MODEL);
            String imageField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "image_field");
            String textField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "text_field");
            String targetField = ConfigurationUtils.readStringProperty(TYPE, tag, config, "target_field", "hash");
            String imageTargetField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "image_target_field");
            String textTargetField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "text_target_field");
            String embeddingField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "embedding_field");
            boolean removeImage = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, "remove_image", false);
            boolean ignoreMissing = ConfigurationUtils.readBooleanProperty(TYPE, tag, config, "ignore_missing", false);
            if (imageField == null && textField == null) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, "image_field", "or [text_field] is required: name the field(s) to hash");
            }
            if (imageTargetField != null && imageField == null) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, "image_target_field", "needs [image_field]");
            }
            if (textTargetField != null && textField == null) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, "text_target_field", "needs [text_field]");
            }
            ModelConfig modelConfig;
            try {
                modelConfig = service.get().registry().config(model);
            } catch (IllegalArgumentException e) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, "model", e.getMessage());
            }
            checkEntryPoint(tag, modelConfig, model, imageField != null, EntryPoint.IMAGE, "image_field");
            checkEntryPoint(tag, modelConfig, model, textField != null, EntryPoint.TEXT, "text_field");
            if (imageField != null && textField != null) {
                checkEntryPoint(tag, modelConfig, model, true, EntryPoint.FUSED, "image_field");
            }
            return new DeepHashProcessor(
                tag,
                description,
                service.get(),
                model,
                imageField,
                textField,
                targetField,
                imageTargetField,
                textTargetField,
                embeddingField,
                removeImage,
                ignoreMissing
            );
        }

        private static void checkEntryPoint(String tag, ModelConfig config, String model, boolean needed, EntryPoint entry, String property) {
            if (needed && config.has(entry) == false) {
                throw ConfigurationUtils.newConfigurationException(
                    TYPE,
                    tag,
                    property,
                    "cannot be hashed by model [" + model + "]: it has no " + entry.jsonName() + " entry point, only "
                        + config.entryPoints().keySet().stream().map(EntryPoint::jsonName).toList()
                );
            }
        }
    }
}
