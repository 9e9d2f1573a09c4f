package org.deephash.ingest;

import org.deephash.DeepHashService;
import org.deephash.compat.ProcessorFactory;
import org.deephash.model.HashInput;
import org.deephash.model.HashOutput;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.deephash.model.ModelConfig;
import org.deephash.model.ModelRegistry;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.ingest.AbstractProcessor;
import org.elasticsearch.ingest.ConfigurationUtils;
import org.elasticsearch.ingest.IngestDocument;
import org.elasticsearch.ingest.Processor;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
 * <p>It is asynchronous: the document is hashed on the {@code deep_hash} thread pool, batched with
 * the other documents being hashed by the same model ({@link DeepHashService#hashBatched}), so a bulk
 * request's documents are hashed on every core, several to an inference call, while the write thread
 * goes on to the next one.
 * Anything wrong with a document (missing inputs, bad base64, an image that is too large, corrupt or
 * in another format, a text that is too long) fails that document with a 400 that names the field,
 * which {@code on_failure} can handle; nothing is written for it.
 *
 * <p>Why {@code model_info_field}: when a model is replaced (a new version of its files, or another
 * model), the documents the old one hashed hold codes that no longer compare with new ones, and users
 * must find them to re-hash them. The processor is the only place that knows which model files
 * computed a code and when: a reload can swap a model between two documents of one bulk request, so
 * the version is the one of the model that ran ({@link DeepHashService#hash}), and it
 * cannot be left to other processors (the test distribution has no {@code set} and no painless).
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
    private final String modelInfoField;
    private final boolean removeImage;
    private final boolean ignoreMissing;

    /** {@code hashed_at}: UTC, always with milliseconds, so that values have one width and sort as strings. */
    static final DateTimeFormatter HASHED_AT = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

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
        String modelInfoField,
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
        this.modelInfoField = modelInfoField;
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
        HashInput input;
        try {
            input = service.input(
                isMissing(imageValue) ? null : imageValue,
                "field [" + imageField + "]",
                isMissing(textValue) ? null : textValue,
                "field [" + textField + "]"
            );
        } catch (RuntimeException e) {
            handler.accept(null, e);
            return;
        }
        Set<EntryPoint> also = EnumSet.noneOf(EntryPoint.class);
        if (imageTargetField != null && input.image() != null) {
            also.add(EntryPoint.IMAGE);
        }
        if (textTargetField != null && input.text() != null) {
            also.add(EntryPoint.TEXT);
        }
        service.hashBatched(model, input, also, new ActionListener<>() {
            @Override
            public void onResponse(DeepHashService.Hashed hashed) {
                try {
                    write(document, input, hashed);
                } catch (RuntimeException e) {
                    handler.accept(null, e);
                    return;
                }
                handler.accept(document, null);
            }

            @Override
            public void onFailure(Exception e) {
                handler.accept(null, e instanceof InputException inputError ? named(inputError, input) : e);
            }
        });
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

    /** Writes the codes, the embedding and the model info of {@code hashed} into {@code document}. */
    private void write(IngestDocument document, HashInput input, DeepHashService.Hashed hashed) {
        Map<EntryPoint, HashOutput> outputs = hashed.outputs();
        HashOutput main = hashed.main();
        document.setFieldValue(targetField, main.codeHex());
        if (embeddingField != null) {
            List<Float> embedding = new ArrayList<>(main.embedding().length);
            for (float v : main.embedding()) {
                embedding.add(v);
            }
            document.setFieldValue(embeddingField, embedding);
        }
        if (imageTargetField != null && input.image() != null) {
            document.setFieldValue(imageTargetField, outputs.get(EntryPoint.IMAGE).codeHex());
        }
        if (textTargetField != null && input.text() != null) {
            document.setFieldValue(textTargetField, outputs.get(EntryPoint.TEXT).codeHex());
        }
        if (modelInfoField != null) {
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("name", model);
            info.put("version", hashed.version());
            info.put("hashed_at", HASHED_AT.format(Instant.ofEpochMilli(System.currentTimeMillis())));
            document.setFieldValue(modelInfoField, info);
        }
        if (removeImage && input.image() != null) {
            document.removeField(imageField);
        }
    }

    /** A document's input error with the field it is about ({@link HashInput#named}). */
    private InputException named(InputException e, HashInput input) {
        return input.named(e, "field [" + imageField + "]", "field [" + textField + "]");
    }

    /** Reads and checks the processor's settings; the model must exist and take the inputs configured. */
    public static final class Factory extends ProcessorFactory {
        private final Supplier<DeepHashService> service;

        public Factory(Supplier<DeepHashService> service) {
            this.service = service;
        }

        @Override
        public Processor create(String tag, String description, Map<String, Object> config) {
            String model = ConfigurationUtils.readStringProperty(TYPE, tag, config, "model", ModelRegistry.DEFAULT_MODEL);
            String imageField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "image_field");
            String textField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "text_field");
            String targetField = ConfigurationUtils.readStringProperty(TYPE, tag, config, "target_field", "hash");
            String imageTargetField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "image_target_field");
            String textTargetField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "text_target_field");
            String embeddingField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "embedding_field");
            String modelInfoField = ConfigurationUtils.readOptionalStringProperty(TYPE, tag, config, "model_info_field");
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
            if (modelInfoField != null) {
                checkModelInfoField(tag, modelInfoField, imageField, textField, targetField, imageTargetField, textTargetField, embeddingField);
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
                modelInfoField,
                removeImage,
                ignoreMissing
            );
        }

        /**
         * The model info is an object written after the codes: on a field the processor reads or writes
         * (or above or below one) it would overwrite an input or a code, or be overwritten.
         */
        private static void checkModelInfoField(
            String tag,
            String modelInfoField,
            String imageField,
            String textField,
            String targetField,
            String imageTargetField,
            String textTargetField,
            String embeddingField
        ) {
            if (modelInfoField.isBlank()) {
                throw ConfigurationUtils.newConfigurationException(TYPE, tag, "model_info_field", "must name a field, e.g. [model_info], but was empty");
            }
            Map<String, String> others = new LinkedHashMap<>();
            others.put("image_field", imageField);
            others.put("text_field", textField);
            others.put("target_field", targetField);
            others.put("image_target_field", imageTargetField);
            others.put("text_target_field", textTargetField);
            others.put("embedding_field", embeddingField);
            for (Map.Entry<String, String> other : others.entrySet()) {
                String field = other.getValue();
                if (field == null) {
                    continue;
                }
                String clash = modelInfoField.equals(field) ? "is the same field as"
                    : field.startsWith(modelInfoField + ".") ? "is an object holding"
                    : modelInfoField.startsWith(field + ".") ? "is inside"
                    : null;
                if (clash != null) {
                    throw ConfigurationUtils.newConfigurationException(
                        TYPE,
                        tag,
                        "model_info_field",
                        "[" + modelInfoField + "] " + clash + " [" + other.getKey() + "] [" + field + "]: the model info is an object of its own "
                            + "({name, version, hashed_at}); name a field the processor does not read or write, e.g. [model_info]"
                    );
                }
            }
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
