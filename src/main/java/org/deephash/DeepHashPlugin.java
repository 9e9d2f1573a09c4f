package org.deephash;

import org.apache.lucene.util.SetOnce;
import org.deephash.compat.ActionPluginBase;
import org.deephash.compat.PluginAction;
import org.deephash.engine.DeepHashEngineFactory;
import org.deephash.ingest.DeepHashProcessor;
import org.deephash.mapper.BinaryHashFieldMapper;
import org.deephash.mapper.HexDocValueFormat;
import org.deephash.model.InputException;
import org.deephash.query.HammingQueryBuilder;
import org.deephash.query.QueryHashAction;
import org.deephash.query.TransportQueryHashAction;
import org.deephash.rest.DeepHashStatsAction;
import org.deephash.rest.GetModelsAction;
import org.deephash.rest.HashAction;
import org.deephash.rest.ReloadModelsAction;
import org.deephash.rest.RestDeepHashStatsAction;
import org.deephash.rest.RestHashAction;
import org.deephash.rest.RestModelsAction;
import org.deephash.rest.RestReloadModelsAction;
import org.deephash.rest.TransportDeepHashStatsAction;
import org.deephash.rest.TransportModelActions;
import org.deephash.rest.TransportReloadModelsAction;
import org.elasticsearch.ExceptionsHelper;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Setting;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.engine.EngineFactory;
import org.elasticsearch.index.mapper.Mapper;
import org.elasticsearch.ingest.Processor;
import org.elasticsearch.plugins.EnginePlugin;
import org.elasticsearch.plugins.IngestPlugin;
import org.elasticsearch.plugins.MapperPlugin;
import org.elasticsearch.plugins.SearchPlugin;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.search.DocValueFormat;
import org.elasticsearch.threadpool.ExecutorBuilder;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Registers the {@code binary_hash} field, the {@code hamming} query, the {@code deep_hash} ingest
 * processor, the {@code _deep_hash} REST API, the hashing thread pool and settings, and for indices
 * with {@code index.deep_hash.codec: true} the engine that stores codes in the plugin's own format.
 */
public class DeepHashPlugin extends ActionPluginBase implements MapperPlugin, SearchPlugin, EnginePlugin, IngestPlugin {
    private static final DeepHashEngineFactory ENGINE_FACTORY = new DeepHashEngineFactory();
    /** Where the bundled models sit, beside the plugin's jar (or classes directory). */
    static final String BUNDLED_MODELS = "models";

    private final SetOnce<DeepHashService> service = new SetOnce<>();

    @Override
    public List<Setting<?>> getSettings() {
        List<Setting<?>> settings = new ArrayList<>(DeepHashService.settings());
        settings.add(DeepHashEngineFactory.CODEC_SETTING);
        return settings;
    }

    @Override
    public List<ExecutorBuilder<?>> getExecutorBuilders(Settings settings) {
        return DeepHashService.executorBuilders(settings);
    }

    @Override
    public Collection<?> createComponents(PluginServices services) {
        DeepHashService s = new DeepHashService(
            services.environment().settings(),
            bundledModels(),
            DeepHashService.modelsPath(services.environment().settings(), services.environment().configDir()),
            services.threadPool().executor(DeepHashService.THREAD_POOL),
            services.threadPool().executor(DeepHashService.SEARCH_THREAD_POOL),
            services.threadPool().generic()
        );
        service.set(s);
        s.watchSettings(services.clusterService().getClusterSettings());
        s.startReloading(services.threadPool());
        return List.of(s);
    }

    /** The service, once the node has created it. */
    DeepHashService service() {
        DeepHashService s = service.get();
        if (s == null) {
            throw new IllegalStateException("deep-hash is not initialised yet: the node is still starting");
        }
        return s;
    }

    private static Path bundledModels() {
        try {
            Path code = Path.of(DeepHashPlugin.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent().resolve(BUNDLED_MODELS);
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
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
    public Map<String, Processor.Factory> getProcessors(Processor.Parameters parameters) {
        return Map.of(DeepHashProcessor.TYPE, new DeepHashProcessor.Factory(this::service));
    }

    @Override
    public List<QuerySpec<?>> getQueries() {
        // Texts and images in a query are hashed at rewrite by QueryHashAction, with the service this node created.
        // A query's text or image refused as it is parsed (a wrong type, a blank value) is counted in the
        // statistics like the same value refused by the processor or _hash.
        return List.of(new QuerySpec<>(HammingQueryBuilder.NAME, HammingQueryBuilder::new, parser -> {
            try {
                return HammingQueryBuilder.fromXContent(parser);
            } catch (RuntimeException e) {
                countInputError(e);
                throw e;
            }
        }));
    }

    private void countInputError(Exception e) {
        DeepHashService s = service.get();
        Throwable input = ExceptionsHelper.unwrap(e, InputException.class);
        if (s != null && input instanceof InputException error) {
            s.counted(error);
        }
    }

    @Override
    protected List<PluginAction<?, ?>> actions() {
        return List.of(
            new PluginAction<>(DeepHashStatsAction.INSTANCE, TransportDeepHashStatsAction.class),
            new PluginAction<>(ReloadModelsAction.INSTANCE, TransportReloadModelsAction.class),
            new PluginAction<>(QueryHashAction.INSTANCE, TransportQueryHashAction.class),
            new PluginAction<>(GetModelsAction.INSTANCE, TransportModelActions.GetModels.class),
            new PluginAction<>(HashAction.INSTANCE, TransportModelActions.Hash.class)
        );
    }

    @Override
    public List<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(
            new RestModelsAction(),
            new RestHashAction(),
            new RestDeepHashStatsAction(),
            new RestReloadModelsAction()
        );
    }

    @Override
    public List<NamedWriteableRegistry.Entry> getNamedWriteables() {
        return List.of(new NamedWriteableRegistry.Entry(DocValueFormat.class, HexDocValueFormat.NAME, HexDocValueFormat::read));
    }

    @Override
    public void close() {
        DeepHashService s = service.get();
        if (s != null) {
            s.close();
        }
    }
}
