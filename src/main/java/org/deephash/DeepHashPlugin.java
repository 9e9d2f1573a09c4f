package org.deephash;

import org.deephash.engine.DeepHashEngineFactory;
import org.deephash.mapper.BinaryHashFieldMapper;
import org.deephash.mapper.HexDocValueFormat;
import org.deephash.query.HammingQueryBuilder;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.engine.EngineFactory;
import org.elasticsearch.index.mapper.Mapper;
import org.elasticsearch.plugins.EnginePlugin;
import org.elasticsearch.plugins.MapperPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.SearchPlugin;
import org.elasticsearch.search.DocValueFormat;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Registers the {@code binary_hash} field, the {@code hamming} query, and for indices with
 * {@code index.deep_hash.codec: true} the engine that stores codes in the plugin's own format.
 */
public class DeepHashPlugin extends Plugin implements MapperPlugin, SearchPlugin, EnginePlugin {
    private static final DeepHashEngineFactory ENGINE_FACTORY = new DeepHashEngineFactory();

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(DeepHashEngineFactory.CODEC_SETTING);
    }

    @Override
    public Optional<EngineFactory> getEngineFactory(IndexSettings indexSettings) {
        return DeepHashEngineFactory.CODEC_SETTING.get(indexSettings.getSettings()) ? Optional.of(ENGINE_FACTORY) : Optional.empty();
    }

    @Override
    public Map<String, Mapper.TypeParser> getMappers() {
        return Map.of(BinaryHashFieldMapper.CONTENT_TYPE, BinaryHashFieldMapper.PARSER);
    }

    @Override
    public List<QuerySpec<?>> getQueries() {
        return List.of(new QuerySpec<>(HammingQueryBuilder.NAME, HammingQueryBuilder::new, HammingQueryBuilder::fromXContent));
    }

    @Override
    public List<NamedWriteableRegistry.Entry> getNamedWriteables() {
        return List.of(new NamedWriteableRegistry.Entry(DocValueFormat.class, HexDocValueFormat.NAME, HexDocValueFormat::read));
    }
}
