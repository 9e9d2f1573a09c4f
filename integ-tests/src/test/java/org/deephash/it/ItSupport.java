package org.deephash.it;

import co.elastic.clients.elasticsearch.ElasticsearchClient;
import co.elastic.clients.elasticsearch._types.query_dsl.Query;
import co.elastic.clients.json.jackson.JacksonJsonpMapper;
import co.elastic.clients.transport.rest_client.RestClientTransport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.http.HttpHost;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.client.Request;
import org.elasticsearch.client.Response;
import org.elasticsearch.client.ResponseException;
import org.elasticsearch.client.RestClient;

import java.io.IOException;
import java.io.StringReader;
import java.util.Locale;
import java.util.Random;

/**
 * Shared plumbing for the ITs: the node URL, the seed, the official client (typed and low-level),
 * and a binary code type with its oracle arithmetic. The ITs start and stop nothing: integ-tests/run.sh
 * (or es-node.sh) manages the node and passes its URL as TESTS_ES_URL.
 */
final class ItSupport {
    static final ObjectMapper JSON = new ObjectMapper();
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ItSupport() {}

    /** A system property or, failing that, an environment variable; null when neither is set. */
    static String setting(String sysProp, String env) {
        String v = System.getProperty(sysProp);
        if (v == null || v.isBlank() || v.startsWith("${")) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? null : v.trim();
    }

    static String esUrl() {
        String url = setting("TESTS_ES_URL", "TESTS_ES_URL");
        if (url == null) {
            throw new IllegalStateException("TESTS_ES_URL is not set: run integ-tests/run.sh, or start a node with "
                + "integ-tests/es-node.sh setup && integ-tests/es-node.sh start and pass -DTESTS_ES_URL=<url>");
        }
        return url;
    }

    /** The run's seed: -Dtests.seed / TESTS_SEED (decimal or 0x-hex), else a fresh one. */
    static long seed() {
        String s = setting("tests.seed", "TESTS_SEED");
        if (s == null) {
            return new Random().nextLong();
        }
        s = s.toLowerCase(Locale.ROOT);
        return s.startsWith("0x") ? Long.parseUnsignedLong(s.substring(2), 16) : Long.parseLong(s);
    }

    /**
     * Extra settings for every index the ITs create, as a JSON object (-Dtests.index.settings /
     * TESTS_INDEX_SETTINGS), e.g. {"index.codec":"best_compression"} or a plugin opt-in setting.
     */
    static ObjectNode extraIndexSettings() {
        String s = setting("tests.index.settings", "TESTS_INDEX_SETTINGS");
        if (s == null) {
            return NODES.objectNode();
        }
        try {
            return (ObjectNode) JSON.readTree(s);
        } catch (IOException | ClassCastException e) {
            throw new IllegalArgumentException("tests.index.settings must be a JSON object: " + s, e);
        }
    }

    /** Index settings: the given ones plus {@link #extraIndexSettings()} (which win). */
    static ObjectNode indexSettings(ObjectNode base) {
        ObjectNode out = base.deepCopy();
        out.setAll(extraIndexSettings());
        return out;
    }

    /** The plugin's opt-in index setting for its own doc-values format. */
    static final String CODEC_SETTING = "index.deep_hash.codec";

    /**
     * Does the installed plugin know {@link #CODEC_SETTING}? Probed by creating (and deleting) an
     * index with it; "unknown setting" means no, anything else unexpected fails the test.
     */
    static boolean codecSettingSupported(Es es) throws IOException {
        String probe = "deep-hash-it-probe";
        es.raw("DELETE", "/" + probe + "?ignore_unavailable=true", (String) null);
        Raw r = es.raw("PUT", "/" + probe, "{\"settings\":{\"number_of_shards\":1,\"number_of_replicas\":0,\"" + CODEC_SETTING
            + "\":true},\"mappings\":{\"properties\":{\"h\":{\"type\":\"binary_hash\",\"bits\":64}}}}");
        if (r.status() == 200) {
            es.raw("DELETE", "/" + probe, (String) null);
            return true;
        }
        if (r.status() == 400 && r.text().contains("unknown setting [" + CODEC_SETTING + "]")) {
            return false;
        }
        throw new AssertionError("probing for " + CODEC_SETTING + ": " + r.describe());
    }

    /**
     * A Random for a seed; the seed is scrambled first (java.util.Random's first outputs for nearby
     * seeds such as 1, 2, 3 are nearly the same).
     */
    static Random random(long seed) {
        long z = seed + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new Random(z ^ (z >>> 31));
    }

    static int intSetting(String sysProp, String env, int dflt) {
        String s = setting(sysProp, env);
        return s == null ? dflt : Integer.parseInt(s);
    }

    /** The official client, typed API and the low-level RestClient underneath it. */
    static final class Es implements AutoCloseable {
        final String url;
        final RestClient rest;
        final ElasticsearchClient client;

        Es() {
            this.url = esUrl();
            this.rest = RestClient.builder(HttpHost.create(url))
                .setRequestConfigCallback(rc -> rc.setConnectTimeout(10_000).setSocketTimeout(120_000))
                .build();
            RestClientTransport transport = new RestClientTransport(rest, new JacksonJsonpMapper(JSON));
            this.client = new ElasticsearchClient(transport);
        }

        /** Sends raw JSON with the low-level client; 4xx/5xx come back as a response, not an exception. */
        Raw raw(String method, String path, String body) throws IOException {
            Request request = new Request(method, path);
            if (body != null) {
                request.setJsonEntity(body);
            }
            Response response;
            try {
                response = ((RestClientTransport) client._transport()).restClient().performRequest(request);
            } catch (ResponseException e) {
                response = e.getResponse();
            }
            String text = response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity());
            JsonNode json = null;
            if (!text.isEmpty()) {
                try {
                    json = JSON.readTree(text);
                } catch (IOException notJson) {
                    json = NODES.textNode(text);
                }
            }
            return new Raw(method + " " + path, body, response.getStatusLine().getStatusCode(), text, json);
        }

        Raw raw(String method, String path, JsonNode body) throws IOException {
            return raw(method, path, body == null ? null : JSON.writeValueAsString(body));
        }

        /** POSTs newline-delimited JSON (a bulk body); 4xx/5xx come back as a response, not an exception. */
        Raw ndjson(String path, String body) throws IOException {
            Request request = new Request("POST", path);
            request.setEntity(new org.apache.http.nio.entity.NStringEntity(body,
                org.apache.http.entity.ContentType.create("application/x-ndjson", java.nio.charset.StandardCharsets.UTF_8)));
            Response response;
            try {
                response = rest.performRequest(request);
            } catch (ResponseException e) {
                response = e.getResponse();
            }
            String text = EntityUtils.toString(response.getEntity());
            return new Raw("POST " + path, null, response.getStatusLine().getStatusCode(), text, JSON.readTree(text));
        }

        @Override
        public void close() throws IOException {
            rest.close();
        }
    }

    record Raw(String request, String requestBody, int status, String text, JsonNode json) {
        String describe() {
            return request + (requestBody == null ? "" : " " + requestBody) + "\n  -> " + status + " " + abbreviate(text, 1500);
        }
    }

    static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...(" + s.length() + " chars)";
    }

    static Query queryOf(JsonNode json) {
        String text;
        try {
            text = JSON.writeValueAsString(json);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return Query.of(q -> q.withJson(new StringReader(text)));
    }

    static ObjectNode hamming(String field, Object code, Integer maxDistance) {
        ObjectNode body = NODES.objectNode();
        body.put("field", field);
        if (code instanceof Code c) {
            body.put("code", c.hex());
        } else if (code instanceof JsonNode n) {
            body.set("code", n);
        } else {
            body.put("code", String.valueOf(code));
        }
        if (maxDistance != null) {
            body.put("max_distance", maxDistance.intValue());
        }
        ObjectNode q = NODES.objectNode();
        q.set("hamming", body);
        return q;
    }

    /** A fixed-width binary code; bit 0 is the most significant bit of byte 0 (first hex digit). */
    static final class Code {
        final byte[] bytes;

        Code(byte[] bytes) {
            this.bytes = bytes;
        }

        int bits() {
            return bytes.length * 8;
        }

        static Code random(int bits, Random rnd) {
            byte[] b = new byte[bits / 8];
            rnd.nextBytes(b);
            return new Code(b);
        }

        Code flip(int nFlips, Random rnd) {
            byte[] b = bytes.clone();
            for (int i = 0; i < nFlips; i++) {
                int bit = rnd.nextInt(bits());
                b[bit >>> 3] ^= (byte) (0x80 >>> (bit & 7));
            }
            return new Code(b);
        }

        int bit(int i) {
            return (bytes[i >>> 3] >>> (7 - (i & 7))) & 1;
        }

        int distance(Code other) {
            int d = 0;
            for (int i = 0; i < bytes.length; i++) {
                d += Integer.bitCount((bytes[i] ^ other.bytes[i]) & 0xff);
            }
            return d;
        }

        String hex() {
            StringBuilder sb = new StringBuilder(bytes.length * 2);
            for (byte x : bytes) {
                sb.append(Character.forDigit((x >>> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
            }
            return sb.toString();
        }

        ArrayNode bitArray() {
            ArrayNode a = NODES.arrayNode(bits());
            for (int i = 0; i < bits(); i++) {
                a.add(bit(i));
            }
            return a;
        }

        /** One of the accepted JSON forms, chosen at random: lower hex, upper hex, or 0/1 array. */
        JsonNode randomForm(Random rnd, double arrayP, double upperP) {
            double p = rnd.nextDouble();
            if (p < arrayP) {
                return bitArray();
            } else if (p < arrayP + upperP) {
                return NODES.textNode(hex().toUpperCase(Locale.ROOT));
            }
            return NODES.textNode(hex());
        }

        @Override
        public String toString() {
            return hex();
        }
    }

    /**
     * Collects failed checks instead of stopping at the first, so one run shows how widespread a
     * problem is; {@link #assertNone} fails the test with the first few, each with its request.
     */
    static final class Checks {
        private final String test;
        private final java.util.List<String> failures = new java.util.ArrayList<>();
        private int total;
        private int failed;

        Checks(String test) {
            this.test = test;
        }

        boolean check(boolean ok, java.util.function.Supplier<String> message) {
            total++;
            if (!ok) {
                failed++;
                if (failures.size() < 8) {
                    failures.add(message.get());
                }
            }
            return ok;
        }

        int total() {
            return total;
        }

        void assertNone() {
            if (failed > 0) {
                StringBuilder sb = new StringBuilder();
                sb.append(test).append(": ").append(failed).append(" of ").append(total).append(" checks failed; first ")
                    .append(failures.size()).append(":");
                for (String f : failures) {
                    sb.append("\n--- ").append(f);
                }
                org.junit.jupiter.api.Assertions.fail(sb.toString());
            }
        }
    }

    /** Expected score of a hamming query: boost * (1 - d / bits), as the float the node returns. */
    static double expectedScore(int d, int bits, double boost) {
        return (float) (boost * (1.0 - (double) d / bits));
    }
}
