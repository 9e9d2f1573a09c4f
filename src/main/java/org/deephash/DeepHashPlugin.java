package org.deephash;

import org.deephash.mapper.BinaryHashFieldMapper;
import org.deephash.mapper.HexDocValueFormat;
import org.deephash.query.HammingQueryBuilder;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.index.mapper.Mapper;
import org.elasticsearch.plugins.MapperPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.SearchPlugin;
import org.elasticsearch.search.DocValueFormat;

import java.util.List;
import java.util.Map;

/** Registers the {@code binary_hash} field and the {@code hamming} query. */
public class DeepHashPlugin extends Plugin implements MapperPlugin, SearchPlugin {

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
