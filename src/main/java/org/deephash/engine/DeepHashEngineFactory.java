package org.deephash.engine;

import org.apache.lucene.codecs.Codec;
import org.deephash.codec.FixedBitsDocValuesFormat.FieldSpec;
import org.deephash.compat.EngineConfigs;
import org.deephash.mapper.BinaryHashFieldMapper.BinaryHashFieldType;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.index.codec.CodecProvider;
import org.elasticsearch.index.engine.Engine;
import org.elasticsearch.index.engine.EngineConfig;
import org.elasticsearch.index.engine.EngineFactory;
import org.elasticsearch.index.engine.InternalEngine;
import org.elasticsearch.index.mapper.MapperService;

import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Elasticsearch's own {@link InternalEngine}, given a codec provider that wraps each codec in a
 * {@link DeepHashCodec}. Used for indices with {@code index.deep_hash.codec: true}; every copy of
 * a shard (primary, replica, recovery, engine reset) goes through it.
 */
public final class DeepHashEngineFactory implements EngineFactory {

    /** Opt-in, fixed at index creation: segments written with it need the plugin to be read. */
    public static final Setting<Boolean> CODEC_SETTING = Setting.boolSetting(
        "index.deep_hash.codec",
        false,
        new CodecNameValidator(),
        Setting.Property.IndexScope,
        Setting.Property.Final
    );

    /** The index.codec values whose codecs {@link Codecs} can wrap: checked at index creation, not at shard start. */
    static final Set<String> SUPPORTED_INDEX_CODECS = Set.of("default", "best_compression", "legacy_default", "legacy_best_compression");

    private static final class CodecNameValidator implements Setting.Validator<Boolean> {
        @Override
        public void validate(Boolean value) {}

        @Override
        public void validate(Boolean enabled, Map<Setting<?>, Object> settings) {
            Object codec = settings.get(EngineConfig.INDEX_CODEC_SETTING);
            if (enabled && SUPPORTED_INDEX_CODECS.contains(codec) == false) {
                throw new IllegalArgumentException(
                    "[index.deep_hash.codec] works with [index.codec] set to one of " + new TreeSet<>(SUPPORTED_INDEX_CODECS) + ", not [" + codec + "]"
                );
            }
        }

        @Override
        public Iterator<Setting<?>> settings() {
            return List.<Setting<?>>of(EngineConfig.INDEX_CODEC_SETTING).iterator();
        }
    }

    @Override
    public Engine newReadWriteEngine(EngineConfig config) {
        return new InternalEngine(EngineConfigs.withCodecProvider(config, new Codecs(config.getCodecProvider(), config.getMapperService())));
    }

    /** Wraps what the original provider returns; codecs it cannot wrap are refused with the reason. */
    static final class Codecs implements CodecProvider {
        private final CodecProvider original;
        private final Function<String, FieldSpec> hashFields;
        private final Map<String, Codec> wrapped = new ConcurrentHashMap<>();

        Codecs(CodecProvider original, MapperService mapperService) {
            this.original = original;
            // Read at each flush and merge: a mapping update (index_options) applies to the segments written after it.
            this.hashFields = field -> mapperService != null && mapperService.fieldType(field) instanceof BinaryHashFieldType type
                ? new FieldSpec(type.bits() / 8, type.indexOptions().formatSubstrings())
                : FieldSpec.UNKNOWN;
        }

        @Override
        public Codec codec(String name) {
            return wrapped.computeIfAbsent(name, n -> wrap(original.codec(n)));
        }

        private Codec wrap(Codec codec) {
            Codec wrapped = DeepHashCodecs.wrap(codec, hashFields);
            if (wrapped == null) {
                throw new IllegalArgumentException(
                    "[" + CODEC_SETTING.getKey() + "] works with index.codec [default] and [best_compression], not with codec ["
                        + codec.getName() + "]"
                );
            }
            return wrapped;
        }

        @Override
        public String[] availableCodecs() {
            return original.availableCodecs();
        }
    }
}
