package org.deephash;

import org.deephash.model.HashInput;
import org.deephash.model.HashModel;
import org.deephash.model.ImagePreprocessorTests;
import org.deephash.model.HashOutput;
import org.deephash.model.HashStats;
import org.deephash.model.InputException;
import org.deephash.model.ModelConfig.EntryPoint;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.ExceptionsHelper;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.common.util.concurrent.EsRejectedExecutionException;
import org.elasticsearch.common.util.concurrent.ThreadContext;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.test.ESTestCase;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.instanceOf;

/** The one hashing call: inputs parsed and their errors counted by kind, the entry point, the statistics; and where users' models are. */
public class DeepHashServiceTests extends ESTestCase {

    private static final Path BUNDLED = Path.of("target/models");

    private DeepHashService service(Settings settings) {
        return new DeepHashService(settings, BUNDLED, createTempDir(), null, null);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> snapshot(DeepHashService service, String key) {
        return (Map<String, Object>) service.stats().snapshot().get(key);
    }

    @SuppressWarnings("unchecked")
    private static long inferenceCalls(DeepHashService service, EntryPoint entry) {
        return (Long) ((Map<String, Object>) snapshot(service, "inference").get(entry.jsonName())).get("calls");
    }

    public void testBadInputIsRefusedAndCounted() {
        DeepHashService service = service(Settings.builder().put("deep_hash.image.max_bytes", "1kb").build());
        InputException e = expectThrows(InputException.class, () -> service.input("iVBORw0KGgo*not", "field [image]", null, "field [caption]"));
        assertEquals(InputException.Kind.BAD_BASE64, e.kind());
        assertThat(e.getMessage(), containsString("field [image] is not valid base64"));
        e = expectThrows(InputException.class, () -> service.input("data:image/png,abc", "field [image]", null, "field [caption]"));
        assertThat(e.getMessage(), containsString("a data URL without [;base64,]"));
        String big = Base64.getEncoder().encodeToString(new byte[8 * 1024]);
        e = expectThrows(InputException.class, () -> service.input(big, "field [image]", "a cat", "field [caption]"));
        assertEquals(InputException.Kind.IMAGE_TOO_LARGE, e.kind());
        assertThat(e.getMessage(), containsString("over the limit of [1024] bytes (deep_hash.image.max_bytes)"));
        e = expectThrows(InputException.class, () -> service.input(null, "field [image]", 42, "field [caption]"));
        assertEquals("field [caption] is a number [42]: expected a string or an array of strings", e.getMessage());
        Map<String, Object> errors = snapshot(service, "errors");
        assertEquals(Map.of("bad_base64", 2L, "image_too_large", 1L, "wrong_type", 1L), errors);
        service.close();
    }

    public void testAnUnknownModelIsCountedAndNothingIsHashed() {
        DeepHashService service = service(Settings.EMPTY);
        InputException e = expectThrows(
            InputException.class,
            () -> service.hash("nope", new HashInput(null, "a cat"), Set.of(), randomFrom(HashStats.Caller.values()))
        );
        assertEquals(InputException.Kind.UNKNOWN_MODEL, e.kind());
        assertThat(e.getMessage(), containsString("[nope]"));
        assertEquals(Map.of("unknown_model", 1L), snapshot(service, "errors"));
        Map<String, Object> all = service.stats().snapshot();
        for (String caller : List.of("documents_hashed", "queries_hashed", "api_requests")) {
            assertEquals(caller, 0L, all.get(caller));
        }
        service.close();
    }

    /** A picture and a caption call for the fused entry point; the others ride along in the same call, counted once for the caller. */
    public void testImageAndCaptionAreHashedFusedOnce() throws IOException {
        DeepHashService service = service(Settings.EMPTY);
        byte[] png = ImagePreprocessorTests.randomPng();
        String caption = randomFrom("a red apple", "grinning face", "a cat with a hat");
        HashInput input = service.input(Base64.getEncoder().encodeToString(png), "[image]", List.of(caption), "[text]");
        assertEquals(EntryPoint.FUSED, input.entryPoint());
        boolean each = randomBoolean();
        DeepHashService.Hashed hashed = service.hash(
            "default",
            input,
            each ? EnumSet.of(EntryPoint.IMAGE, EntryPoint.TEXT) : Set.of(),
            HashStats.Caller.API
        );
        try (HashModel oracle = HashModel.load(BUNDLED.resolve("default"))) {
            assertEquals(EntryPoint.FUSED, hashed.entryPoint());
            assertEquals(oracle.config().version(), hashed.version());
            HashOutput fused = oracle.hashFused(List.of(png), List.of(caption)).get(0);
            assertEquals(fused.codeHex(), hashed.main().codeHex());
            assertArrayEquals(fused.embedding(), hashed.main().embedding(), 1e-5f);
            if (each) {
                assertEquals(oracle.hashImages(List.of(png)).get(0).codeHex(), hashed.outputs().get(EntryPoint.IMAGE).codeHex());
                assertEquals(oracle.hashTexts(List.of(caption)).get(0).codeHex(), hashed.outputs().get(EntryPoint.TEXT).codeHex());
            } else {
                assertEquals(Set.of(EntryPoint.FUSED), hashed.outputs().keySet());
            }
        }
        Map<String, Object> all = service.stats().snapshot();
        assertEquals(1L, all.get("api_requests"));
        assertEquals(0L, all.get("documents_hashed"));
        assertEquals(0L, all.get("queries_hashed"));
        assertEquals(1L, inferenceCalls(service, EntryPoint.FUSED));
        assertEquals(each ? 1L : 0L, inferenceCalls(service, EntryPoint.IMAGE));
        assertEquals(each ? 1L : 0L, inferenceCalls(service, EntryPoint.TEXT));
        assertEquals(Map.of(), snapshot(service, "errors"));
        service.close();
    }

    public void testAnotherEntryPointNeedsItsInput() {
        DeepHashService service = service(Settings.EMPTY);
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> service.hash("default", new HashInput(null, "a cat"), EnumSet.of(EntryPoint.IMAGE), HashStats.Caller.QUERY)
        );
        assertEquals("the image entry point needs an image", e.getMessage());
        service.close();
    }

    /** Runs each task on {@code pool} once the gate opens, so that every document is queued before the first batch is taken. */
    private static Executor gated(ExecutorService pool, CountDownLatch gate) {
        return task -> pool.execute(() -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
        });
    }

    private static ExecutorService pool(int threads) {
        return pool(threads, 100);
    }

    /** A fixed pool of {@code threads} with a queue of {@code queue} tasks, as the node's deep_hash pool is built; terminate it. */
    static ExecutorService pool(int threads, int queue) {
        return EsExecutors.newFixed(
            "deep-hash-test",
            threads,
            queue,
            EsExecutors.daemonThreadFactory("deep-hash-test"),
            new ThreadContext(Settings.EMPTY),
            EsExecutors.TaskTrackingConfig.DO_NOT_TRACK
        );
    }

    /** A caption of 1 to 12 words, so that a batch pads texts of different lengths. */
    private static String randomCaption() {
        List<String> words = List.of("grinning", "face", "red", "apple", "cat", "with", "a", "hat", "smiling", "eyes", "heart", "flag", "of", "japan");
        return String.join(" ", randomList(1, 12, () -> randomFrom(words)));
    }

    /** Batches for {@code queued} documents waiting at once: each take is max_size or a worker's share of what is left. */
    private static long batches(int queued, int maxSize, int workers) {
        long batches = 0;
        while (queued > 0) {
            queued -= Math.min(maxSize, (queued + workers - 1) / workers);
            batches++;
        }
        return batches;
    }

    /** What a document asks for, what the batched path gave it, and what it gets alone. */
    private record Doc(HashInput input, Set<EntryPoint> also, AtomicReference<Object> outcome) {}

    /**
     * Documents of three kinds (fused with the per-modality codes, picture only, caption only), some with
     * a corrupt picture or a caption over the limit, queued together and hashed in batches on two
     * threads: each gets the codes and embeddings it gets alone (no bit flipped, embeddings within
     * 1e-5), a bad one fails alone with the error it gets alone, and the batches are as many as the
     * size cap and the workers' shares make them.
     */
    public void testBatchedDocumentsGetWhatTheyGetAlone() throws Exception {
        int maxSize = between(2, 12);
        Settings settings = Settings.builder()
            .put("deep_hash.batch.max_size", maxSize)
            .put("deep_hash.text.max_chars", 200)
            .put("deep_hash.thread_pool.size", 2)
            .build();
        ExecutorService pool = pool(2);
        CountDownLatch gate = new CountDownLatch(1);
        DeepHashService lone = new DeepHashService(settings, BUNDLED, createTempDir(), null, null);
        DeepHashService withBatches = new DeepHashService(settings, BUNDLED, createTempDir(), gated(pool, gate), null);
        List<Doc> docs = new ArrayList<>();
        Map<Set<EntryPoint>, Integer> lanes = new HashMap<>();
        int n = between(30, 60);
        for (int i = 0; i < n; i++) {
            int kind = randomInt(2);
            byte[] png = kind == 2 ? null : rarely() ? randomByteArrayOfLength(between(1, 64)) : ImagePreprocessorTests.randomPng();
            String caption = kind == 1 ? null : rarely() ? randomAlphaOfLength(201) : randomCaption();
            Set<EntryPoint> also = kind == 0 && randomBoolean() ? EnumSet.of(EntryPoint.IMAGE, EntryPoint.TEXT) : Set.of();
            HashInput input = new HashInput(png, caption);
            Doc doc = new Doc(input, also, new AtomicReference<>());
            docs.add(doc);
            Set<EntryPoint> lane = EnumSet.of(input.entryPoint());
            lane.addAll(also);
            lanes.merge(lane, 1, Integer::sum);
        }
        CountDownLatch done = new CountDownLatch(n);
        for (Doc doc : docs) {
            withBatches.hashBatched("default", doc.input(), doc.also(), ActionListener.wrap(hashed -> {
                doc.outcome().set(hashed);
                done.countDown();
            }, e -> {
                doc.outcome().set(e);
                done.countDown();
            }));
        }
        gate.countDown();
        assertTrue("every document is completed", done.await(60, TimeUnit.SECONDS));
        int failed = 0;
        for (Doc doc : docs) {
            Object outcome = doc.outcome().get();
            DeepHashService.Hashed alone;
            try {
                alone = lone.hash("default", doc.input(), doc.also(), HashStats.Caller.API);
            } catch (InputException e) {
                failed++;
                assertThat("a bad document fails alone", outcome, instanceOf(InputException.class));
                assertEquals(e.getMessage(), ((InputException) outcome).getMessage());
                assertEquals(e.kind(), ((InputException) outcome).kind());
                continue;
            }
            assertThat(outcome, instanceOf(DeepHashService.Hashed.class));
            DeepHashService.Hashed hashed = (DeepHashService.Hashed) outcome;
            assertEquals(alone.version(), hashed.version());
            assertEquals(alone.entryPoint(), hashed.entryPoint());
            assertEquals(alone.outputs().keySet(), hashed.outputs().keySet());
            for (EntryPoint entry : alone.outputs().keySet()) {
                assertEquals(alone.outputs().get(entry).codeHex(), hashed.outputs().get(entry).codeHex());
                assertArrayEquals(alone.outputs().get(entry).embedding(), hashed.outputs().get(entry).embedding(), 1e-5f);
            }
        }
        Map<String, Object> stats = withBatches.statsSnapshot();
        assertEquals((long) (n - failed), stats.get("documents_hashed"));
        @SuppressWarnings("unchecked")
        Map<String, Object> batching = (Map<String, Object>) stats.get("batching");
        long expectedBatches = lanes.values().stream().mapToLong(count -> batches(count, maxSize, 2)).sum();
        assertEquals(batching.toString(), expectedBatches, batching.get("batches"));
        assertEquals((long) n, batching.get("documents"));
        assertEquals(maxSize, batching.get("max_size"));
        assertEquals(0, batching.get("queued"));
        lone.close();
        withBatches.close();
        terminate(pool);
    }

    /** Over the queue's documents, one more is refused at once with a 429 and counted; the queued ones are hashed. */
    public void testAFullQueueRefusesWithA429() throws Exception {
        int queue = between(1, 4);
        Settings settings = Settings.builder().put("deep_hash.thread_pool.queue_size", queue).put("deep_hash.thread_pool.size", 1).build();
        ExecutorService pool = pool(1);
        CountDownLatch gate = new CountDownLatch(1);
        DeepHashService service = new DeepHashService(settings, BUNDLED, createTempDir(), gated(pool, gate), null);
        int extra = between(1, 3);
        List<AtomicReference<Object>> outcomes = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(queue + extra);
        for (int i = 0; i < queue + extra; i++) {
            AtomicReference<Object> outcome = new AtomicReference<>();
            outcomes.add(outcome);
            service.hashBatched("default", new HashInput(null, randomCaption()), Set.of(), ActionListener.wrap(hashed -> {
                outcome.set(hashed);
                done.countDown();
            }, e -> {
                outcome.set(e);
                done.countDown();
            }));
        }
        for (int i = queue; i < queue + extra; i++) {
            Object refused = outcomes.get(i).get();
            assertThat("refused before any batch runs", refused, instanceOf(EsRejectedExecutionException.class));
            assertEquals(RestStatus.TOO_MANY_REQUESTS, ExceptionsHelper.status((Exception) refused));
            assertThat(((Exception) refused).getMessage(), containsString("[" + queue + "] items are already waiting to be hashed on [deep_hash]"));
        }
        gate.countDown();
        assertTrue(done.await(60, TimeUnit.SECONDS));
        for (int i = 0; i < queue; i++) {
            assertThat(outcomes.get(i).get(), instanceOf(DeepHashService.Hashed.class));
        }
        assertEquals(Map.of("rejected", (long) extra), snapshot(service, "errors"));
        service.close();
        terminate(pool);
    }

    /** The caps are cluster settings: max_size 1 turns batching off without a restart. */
    public void testBatchingIsTurnedOffAndOnDynamically() throws Exception {
        ExecutorService pool = pool(2);
        CountDownLatch gate = new CountDownLatch(1);
        DeepHashService service = new DeepHashService(Settings.EMPTY, BUNDLED, createTempDir(), gated(pool, gate), null);
        ClusterSettings clusterSettings = new ClusterSettings(Settings.EMPTY, Set.of(DeepHashService.BATCH_MAX_SIZE, DeepHashService.BATCH_MAX_WAIT));
        service.watchSettings(clusterSettings);
        @SuppressWarnings("unchecked")
        Map<String, Object> batching = (Map<String, Object>) service.statsSnapshot().get("batching");
        assertEquals(8, batching.get("max_size"));
        assertEquals(2.0, batching.get("max_wait_in_millis"));
        clusterSettings.applySettings(Settings.builder().put("deep_hash.batch.max_size", 1).put("deep_hash.batch.max_wait", "0ms").build());
        int n = between(3, 10);
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            service.hashBatched("default", new HashInput(null, randomCaption()), Set.of(), ActionListener.wrap(h -> done.countDown(), e -> {
                throw new AssertionError(e);
            }));
        }
        gate.countDown();
        assertTrue(done.await(60, TimeUnit.SECONDS));
        @SuppressWarnings("unchecked")
        Map<String, Object> off = (Map<String, Object>) service.statsSnapshot().get("batching");
        assertEquals(1, off.get("max_size"));
        assertEquals(0.0, off.get("max_wait_in_millis"));
        assertEquals((long) n, off.get("batches"));
        assertEquals(1L, off.get("largest_size"));
        service.close();
        terminate(pool);
    }

    private static Settings modelsPath(String value) {
        return Settings.builder().put("deep_hash.models.path", value).build();
    }

    public void testModelsPathDefaultsToTheConfigDirectory() {
        Path config = createTempDir();
        assertEquals(config.resolve("deep-hash/models"), DeepHashService.modelsPath(Settings.EMPTY, config));
    }

    /** Relative to the config directory, as Elasticsearch's own paths are; absolute as given; missing is no user models. */
    public void testModelsPathRelativeOrAbsolute() throws IOException {
        Path config = createTempDir();
        assertEquals(config.resolve("shared/models"), DeepHashService.modelsPath(modelsPath("shared/models"), config));
        assertEquals(config.getParent().resolve("models"), DeepHashService.modelsPath(modelsPath("../models"), config));
        Path elsewhere = createTempDir().toAbsolutePath();
        assertEquals(elsewhere, DeepHashService.modelsPath(modelsPath(elsewhere.toString()), config));
        Path missing = elsewhere.resolve("not-yet");
        assertEquals(missing, DeepHashService.modelsPath(modelsPath(missing.toString()), config));
        Files.createDirectories(missing);
        assertEquals(missing, DeepHashService.modelsPath(modelsPath(missing + "/"), config));
    }

    public void testModelsPathThatIsAFileStopsTheNode() throws IOException {
        Path config = createTempDir();
        Path file = Files.writeString(config.resolve("models.txt"), "not a directory");
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> DeepHashService.modelsPath(modelsPath(file.toString()), config)
        );
        assertEquals(
            "[deep_hash.models.path] is [" + file + "], which is not a directory: point it at a directory holding one directory per model",
            e.getMessage()
        );
        e = expectThrows(IllegalArgumentException.class, () -> DeepHashService.modelsPath(modelsPath("models.txt"), config));
        assertThat(e.getMessage(), containsString("[deep_hash.models.path] is [models.txt] (in [" + file + "]), which is not a directory"));
    }

    public void testEmptyModelsPathIsRefused() {
        IllegalArgumentException e = expectThrows(
            IllegalArgumentException.class,
            () -> DeepHashService.modelsPath(modelsPath(randomFrom("", " ")), createTempDir())
        );
        assertThat(e.getMessage(), containsString("[deep_hash.models.path] is empty: expected a directory"));
    }
}
