package org.deephash.rest;

import org.deephash.DeepHashService;
import org.deephash.compat.TestCompat;
import org.deephash.model.HashModel;
import org.deephash.model.HashOutput;
import org.deephash.model.ImagePreprocessorTests;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.ActionRequest;
import org.elasticsearch.action.ActionResponse;
import org.elasticsearch.action.ActionType;
import org.elasticsearch.common.bytes.BytesArray;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.util.concurrent.EsExecutors;
import org.elasticsearch.common.xcontent.XContentHelper;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.test.ESTestCase;
import org.elasticsearch.test.client.NoOpNodeClient;
import org.elasticsearch.test.rest.FakeRestChannel;
import org.elasticsearch.test.rest.FakeRestRequest;
import org.elasticsearch.threadpool.ThreadPool;
import org.elasticsearch.xcontent.XContentType;
import org.junit.AfterClass;
import org.junit.BeforeClass;

import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;

/** {@code POST _deep_hash/models/{name}/_hash} without a node: the bundled model, hashing on the calling thread; the model itself is the oracle. */
public class RestHashActionTests extends ESTestCase {
    private static final Path BUNDLED = Path.of("target/models");
    private static HashModel oracle;

    @BeforeClass
    public static void loadOracle() {
        oracle = HashModel.load(BUNDLED.resolve("default"));
    }

    @AfterClass
    public static void closeOracle() {
        oracle.close();
        oracle = null;
    }

    private DeepHashService service() {
        return new DeepHashService(Settings.EMPTY, BUNDLED, createTempDir(), EsExecutors.DIRECT_EXECUTOR_SERVICE, EsExecutors.DIRECT_EXECUTOR_SERVICE);
    }

    private RestResponse post(DeepHashService service, String model, String body) throws Exception {
        RestRequest request = new FakeRestRequest.Builder(xContentRegistry()).withMethod(RestRequest.Method.POST)
            .withPath("/_deep_hash/models/" + model + "/_hash")
            .withParams(new HashMap<>(Map.of("name", model)))
            .withContent(new BytesArray(body), XContentType.JSON)
            .build();
        FakeRestChannel channel = TestCompat.restChannel(request);
        new RestHashAction().handleRequest(request, channel, new LocalClient(service));
        assertEquals(1, channel.responses().get() + channel.errors().get());
        return channel.capturedResponse();
    }

    /** A node client that runs {@link HashAction} as the node does, on the service's (here direct) search pool. */
    private static final class LocalClient extends NoOpNodeClient {
        private final DeepHashService service;

        LocalClient(DeepHashService service) {
            super((ThreadPool) null);
            this.service = service;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <Request extends ActionRequest, Response extends ActionResponse> void doExecute(
            ActionType<Response> action,
            Request request,
            ActionListener<Response> listener
        ) {
            assertSame(HashAction.INSTANCE, action);
            TransportModelActions.onSearchPool(
                service,
                () -> (Response) TransportModelActions.hash(service, (HashAction.Request) request),
                listener
            );
        }
    }

    private static Map<String, Object> json(RestResponse response) {
        return XContentHelper.convertToMap(response.content(), false, XContentType.JSON).v2();
    }

    public void testACaptionGetsTheTextCode() throws Exception {
        try (DeepHashService service = service()) {
            String caption = randomFrom("a red apple", "grinning face");
            RestResponse response = post(service, "default", "{\"text\": \"" + caption + "\"}");
            assertEquals(RestStatus.OK, response.status());
            Map<String, Object> body = json(response);
            assertEquals("text", body.get("entry_point"));
            assertEquals(oracle.hashTexts(List.of(caption)).get(0).codeHex(), body.get("code"));
            assertNull(body.get("codes"));
            assertEquals(1L, service.stats().snapshot().get("api_requests"));
        }
    }

    public void testAPictureAndACaptionGetTheFusedCodeAndEachModality() throws Exception {
        try (DeepHashService service = service()) {
            byte[] png = ImagePreprocessorTests.randomPng();
            String caption = randomFrom("a red apple", "grinning face");
            RestResponse response = post(
                service,
                "default",
                "{\"text\": [\"" + caption + "\"], \"image\": \"" + Base64.getEncoder().encodeToString(png) + "\"}"
            );
            assertEquals(RestStatus.OK, response.status());
            Map<String, Object> body = json(response);
            HashOutput fused = oracle.hashFused(List.of(png), List.of(caption)).get(0);
            assertEquals("fused", body.get("entry_point"));
            assertEquals(fused.codeHex(), body.get("code"));
            assertEquals(
                Map.of(
                    "fused", fused.codeHex(),
                    "image", oracle.hashImages(List.of(png)).get(0).codeHex(),
                    "text", oracle.hashTexts(List.of(caption)).get(0).codeHex()
                ),
                body.get("codes")
            );
            assertEquals(1L, service.stats().snapshot().get("api_requests"));
        }
    }

    public void testBadInputIsA400ThatNamesTheValue() throws Exception {
        try (DeepHashService service = service()) {
            RestResponse response = post(service, "default", "{\"image\": \"iVBORw0KGgo*not\"}");
            assertEquals(RestStatus.BAD_REQUEST, response.status());
            assertThat(response.content().utf8ToString(), containsString("[_hash] [image] is not valid base64"));
            response = post(service, "default", "{\"text\": 42}");
            assertEquals(RestStatus.BAD_REQUEST, response.status());
            assertThat(response.content().utf8ToString(), containsString("[_hash] [text] is a number [42]: expected a string or an array of strings"));
            Map<String, Object> stats = service.stats().snapshot();
            assertEquals(Map.of("bad_base64", 1L, "wrong_type", 1L), stats.get("errors"));
            assertEquals(0L, stats.get("api_requests"));
        }
    }

    public void testABlankCaptionAndABrokenPictureAreRefusedByName() throws Exception {
        try (DeepHashService service = service()) {
            RestResponse response = post(service, "default", "{\"text\": " + randomFrom("\"\"", "\" \\t \"", "[]", "[\" \"]") + "}");
            assertEquals(RestStatus.BAD_REQUEST, response.status());
            assertThat(response.content().utf8ToString(), containsString("[_hash] [text] is empty: expected a caption or keywords to hash"));
            byte[] png = ImagePreprocessorTests.randomPng();
            byte[] broken = java.util.Arrays.copyOf(png, png.length / 2);
            response = post(service, "default", "{\"image\": \"" + Base64.getEncoder().encodeToString(broken) + "\", \"text\": \"a cat\"}");
            assertEquals(RestStatus.BAD_REQUEST, response.status());
            assertThat(response.content().utf8ToString(), containsString("[_hash] [image]: the image looks like png but could not be decoded"));
            assertEquals(Map.of("missing_input", 1L, "corrupt_image", 1L), service.stats().snapshot().get("errors"));
        }
    }

    public void testAnUnknownModelIsA404() throws Exception {
        try (DeepHashService service = service()) {
            RestResponse response = post(service, "nope", "{\"text\": \"a cat\"}");
            assertEquals(RestStatus.NOT_FOUND, response.status());
            assertThat(response.content().utf8ToString(), containsString("unknown model [nope]"));
        }
    }
}
