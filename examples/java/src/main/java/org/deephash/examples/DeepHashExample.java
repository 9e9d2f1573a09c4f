package org.deephash.examples;

import co.elastic.clients.elasticsearch.ElasticsearchClient;
import co.elastic.clients.elasticsearch._types.Refresh;
import co.elastic.clients.elasticsearch._types.query_dsl.Query;
import co.elastic.clients.elasticsearch.core.BulkRequest;
import co.elastic.clients.elasticsearch.core.BulkResponse;
import co.elastic.clients.elasticsearch.core.SearchResponse;
import co.elastic.clients.elasticsearch.core.search.Hit;
import co.elastic.clients.json.jackson.JacksonJsonpMapper;
import co.elastic.clients.transport.rest_client.RestClientTransport;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.http.HttpHost;
import org.apache.http.util.EntityUtils;
import org.elasticsearch.client.Request;
import org.elasticsearch.client.Response;
import org.elasticsearch.client.RestClient;

/**
 * deep-hash from the official Java client: a deep_hash pipeline, an index with binary_hash fields and a
 * dense_vector embedding, ten captioned pictures bulked through the pipeline, hamming queries by code, text
 * and picture (with max_distance and with rerank), and the plugin's _deep_hash API. Every answer is checked
 * against what it must be (distances computed here from the codes the node stored); the exit status is 1 if
 * any check fails.
 *
 * <pre>java ... org.deephash.examples.DeepHashExample [http://127.0.0.1:9200]   (or ES_URL)</pre>
 */
public final class DeepHashExample {
    static final String PIPELINE = "deep-hash-example";
    static final String INDEX = "deep-hash-example-java";
    static final ObjectMapper JSON = new ObjectMapper();

    private static int checks;
    private static final List<String> failures = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        String url = args.length > 0 ? args[0] : System.getenv().getOrDefault("ES_URL", "http://localhost:9200");
        Path sample = Path.of(System.getProperty("deephash.sample", "demo/emoji-test-sample.ndjson"));
        // The official client over the low-level RestClient; the RestClient also serves the plugin's own endpoints.
        RestClient rest = RestClient.builder(HttpHost.create(url)).build();
        ElasticsearchClient es = new ElasticsearchClient(new RestClientTransport(rest, new JacksonJsonpMapper(JSON)));
        try {
            run(es, rest, url, sample);
        } catch (Exception e) {
            failures.add("unexpected error: " + e);
            e.printStackTrace();
        } finally {
            rest.close();
        }
        if (failures.isEmpty()) {
            System.out.println("==> Java client example: all " + checks + " checks passed");
            System.exit(0);
        }
        System.out.println("==> Java client example: " + failures.size() + " of " + checks + " checks FAILED");
        failures.forEach(f -> System.out.println("  FAILED: " + f));
        System.exit(1);
    }

    static void run(ElasticsearchClient es, RestClient rest, String url, Path sample) throws IOException {
        System.out.println("==> Java client (elasticsearch-java) against " + url);

        // 1. The plugin's own API, through the low-level client: which models the node has.
        JsonNode model = null;
        for (JsonNode m : call(rest, "GET", "/_deep_hash/models", null).path("models")) {
            if (m.path("name").asText().equals("default")) {
                model = m;
            }
        }
        check(model != null && model.path("usable").asBoolean(), "GET _deep_hash/models lists a usable model 'default'");
        int bits = model.path("bits").asInt();
        int dims = model.path("embedding_dim").asInt();
        System.out.printf("GET _deep_hash/models: default, %d bits, %d-d embedding, entry points %s%n",
            bits, dims, model.path("entry_points"));

        // 2. The pipeline: fused code, per-modality codes, embedding; the picture itself is not kept.
        es.ingest().putPipeline(p -> p.id(PIPELINE).withJson(new StringReader("""
            {"description": "hash each picture and its caption with the bundled model",
             "processors": [{"deep_hash": {"model": "default", "image_field": "image", "text_field": "caption",
               "target_field": "hash", "image_target_field": "image_hash", "text_target_field": "text_hash",
               "embedding_field": "embedding", "remove_image": true}}]}""")));
        System.out.println("PUT _ingest/pipeline/" + PIPELINE);

        // 3. The index: binary_hash fields of the model's width, the embedding for re-ranking.
        es.indices().delete(d -> d.index(INDEX).ignoreUnavailable(true));
        String mappings = """
            {"settings": {"number_of_shards": 1, "number_of_replicas": 0, "index.deep_hash.codec": true},
             "mappings": {"properties": {
               "label": {"type": "text"}, "caption": {"type": "text"}, "subgroup": {"type": "keyword"},
               "hash": {"type": "binary_hash", "bits": BITS},
               "image_hash": {"type": "binary_hash", "bits": BITS},
               "text_hash": {"type": "binary_hash", "bits": BITS},
               "embedding": {"type": "dense_vector", "dims": DIMS, "index": false}}}}"""
            .replace("BITS", String.valueOf(bits)).replace("DIMS", String.valueOf(dims));
        es.indices().create(c -> c.index(INDEX).withJson(new StringReader(mappings)));
        System.out.println("PUT " + INDEX);

        // 4. Ten pictures with captions (every 40th of the demo sample), bulked through the pipeline.
        List<String> lines = Files.readAllLines(sample);
        Map<String, ObjectNode> pictures = new LinkedHashMap<>();
        for (int i = 0; i < lines.size() && pictures.size() < 10; i += 40) {
            ObjectNode d = (ObjectNode) JSON.readTree(lines.get(i));
            ObjectNode doc = JSON.createObjectNode();
            doc.set("label", d.get("label"));
            doc.set("caption", d.get("caption"));
            doc.set("subgroup", d.get("subgroup"));
            doc.set("image", d.get("image"));
            pictures.put(d.get("picture").asText(), doc);
        }
        BulkRequest.Builder bulk = new BulkRequest.Builder().index(INDEX).pipeline(PIPELINE).refresh(Refresh.True);
        pictures.forEach((id, doc) -> bulk.operations(op -> op.index(i -> i.id(id).document(doc))));
        BulkResponse indexed = es.bulk(bulk.build());
        check(!indexed.errors(), "bulk through the pipeline has no errors");
        System.out.printf("POST _bulk?pipeline=%s: %d pictures in %d ms%n", PIPELINE, indexed.items().size(), indexed.took());

        Map<String, JsonNode> stored = new LinkedHashMap<>();
        for (Hit<ObjectNode> h : es.search(s -> s.index(INDEX).size(100), ObjectNode.class).hits().hits()) {
            stored.put(h.id(), h.source());
        }
        check(stored.keySet().equals(pictures.keySet()), "all ten pictures are in the index: " + stored.keySet());
        for (Map.Entry<String, JsonNode> e : stored.entrySet()) {
            JsonNode s = e.getValue();
            check(s.path("hash").asText().matches("[0-9a-f]{" + bits / 4 + "}")
                    && s.path("image_hash").asText().length() == bits / 4
                    && s.path("text_hash").asText().length() == bits / 4
                    && s.path("embedding").size() == dims
                    && !s.has("image"),
                "document " + e.getKey() + " has its three codes and embedding, and no picture");
        }

        // 5. By code, within a radius: every document within 28 bits of the first one's fused code.
        String firstId = stored.keySet().iterator().next();
        String code = stored.get(firstId).path("hash").asText();
        Query byCode = Query.of(q -> q._custom("hamming", Map.of("field", "hash", "code", code, "max_distance", 28)));
        SearchResponse<ObjectNode> r = es.search(s -> s.index(INDEX).query(byCode).size(10), ObjectNode.class);
        show("hamming by code " + code + " on [hash], max_distance 28", r, bits, code, "hash");
        checkRadius(r, stored, "hash", code, 28, bits);
        check(r.hits().hits().get(0).id().equals(firstId) && r.hits().hits().get(0).score() == 1.0,
            "the code query finds its own document first, score 1.0");

        // 6. By picture: one whose image code no other picture shares finds its own document first, at distance 0.
        String pictureId = null;
        for (String id : stored.keySet()) {
            String c = stored.get(id).path("image_hash").asText();
            if (stored.values().stream().filter(s -> s.path("image_hash").asText().equals(c)).count() == 1) {
                pictureId = id;
                break;
            }
        }
        check(pictureId != null, "some picture has an image code of its own");
        String image = pictures.get(pictureId).path("image").asText();
        JsonNode imageHash = call(rest, "POST", "/_deep_hash/models/default/_hash", "{\"image\": \"" + image + "\"}");
        String imageCode = imageHash.path("code").asText();
        check(imageCode.equals(stored.get(pictureId).path("image_hash").asText()),
            "POST _deep_hash/models/default/_hash gives the picture the image code the pipeline stored");
        Query byPicture = Query.of(q -> q._custom("hamming", Map.of("field", "image_hash", "image", image, "max_distance", 32)));
        r = es.search(s -> s.index(INDEX).query(byPicture).size(10), ObjectNode.class);
        show("hamming by picture (\"" + pictures.get(pictureId).path("label").asText() + "\") on [image_hash], max_distance 32",
            r, bits, imageCode, "image_hash");
        checkRadius(r, stored, "image_hash", imageCode, 32, bits);
        check(!r.hits().hits().isEmpty() && r.hits().hits().get(0).id().equals(pictureId) && r.hits().hits().get(0).score() == 1.0,
            "the picture query finds the picture's own document first, at distance 0");

        // 7. By text against the pictures' codes (cross-modal), top 5.
        String text = "fruit";
        String textCode = call(rest, "POST", "/_deep_hash/models/default/_hash", "{\"text\": \"" + text + "\"}").path("code").asText();
        Query byText = Query.of(q -> q._custom("hamming", Map.of("field", "image_hash", "text", text)));
        r = es.search(s -> s.index(INDEX).query(byText).size(5), ObjectNode.class);
        show("hamming by text \"" + text + "\" on [image_hash], top 5", r, bits, textCode, "image_hash");
        check(r.hits().hits().size() == 5, "the text query returns 5 hits");
        checkScores(r, "image_hash", textCode, bits);

        // 8. By text with rerank: the 5 nearest codes re-scored by the embedding, 1 / (1 + d^2) for an unindexed vector.
        String drink = "hot drink";
        JsonNode drinkHash = call(rest, "POST", "/_deep_hash/models/default/_hash", "{\"text\": \"" + drink + "\"}");
        Query reranked = Query.of(q -> q._custom("hamming", Map.of("field", "hash", "text", drink,
            "rerank", Map.of("field", "embedding", "window", 5))));
        r = es.search(s -> s.index(INDEX).query(reranked).size(10), ObjectNode.class);
        show("hamming by text \"" + drink + "\" on [hash], rerank {embedding, window 5}", r, bits,
            drinkHash.path("code").asText(), "hash");
        check(r.hits().hits().size() == 5, "rerank keeps the window's 5 candidates");
        boolean changed = false;
        for (Hit<ObjectNode> h : r.hits().hits()) {
            double d2 = 0;
            for (int i = 0; i < dims; i++) {
                double diff = drinkHash.path("embedding").get(i).asDouble() - h.source().path("embedding").get(i).asDouble();
                d2 += diff * diff;
            }
            double expected = 1 / (1 + d2);
            check(Math.abs(h.score() - expected) <= 1e-4 * expected,
                "rerank score of " + h.id() + " is the embedding's 1/(1+d^2) = " + expected + ": " + h.score());
            int d = hamming(drinkHash.path("code").asText(), h.source().path("hash").asText());
            changed |= Math.abs(h.score() - (1 - (double) d / bits)) > 1e-6;
        }
        check(changed, "rerank changed the scores from the Hamming ones");
    }

    /** Sends a request with the low-level client and parses the JSON answer; a 4xx/5xx throws. */
    static JsonNode call(RestClient rest, String method, String path, String body) throws IOException {
        Request request = new Request(method, path);
        if (body != null) {
            request.setJsonEntity(body);
        }
        Response response = rest.performRequest(request);
        return JSON.readTree(EntityUtils.toString(response.getEntity()));
    }

    static int hamming(String a, String b) {
        return new BigInteger(a, 16).xor(new BigInteger(b, 16)).bitCount();
    }

    /** The hits are exactly the documents within the radius, closest first, each scored 1 - d/bits. */
    static void checkRadius(SearchResponse<ObjectNode> r, Map<String, JsonNode> stored, String field, String code,
                            int radius, int bits) {
        long within = stored.values().stream().filter(s -> hamming(code, s.path(field).asText()) <= radius).count();
        check(r.hits().hits().size() == within,
            "max_distance " + radius + " on [" + field + "] returns the " + within + " documents within it: " + r.hits().hits().size());
        checkScores(r, field, code, bits);
    }

    static void checkScores(SearchResponse<ObjectNode> r, String field, String code, int bits) {
        double previous = Double.MAX_VALUE;
        for (Hit<ObjectNode> h : r.hits().hits()) {
            int d = hamming(code, h.source().path(field).asText());
            double expected = 1 - (double) d / bits;
            check(Math.abs(h.score() - expected) < 1e-6 && h.score() <= previous,
                "hit " + h.id() + " on [" + field + "] scores 1 - " + d + "/" + bits + " in order: " + h.score());
            previous = h.score();
        }
    }

    static void show(String what, SearchResponse<ObjectNode> r, int bits, String code, String field) {
        System.out.println();
        System.out.println("==> " + what + ": " + r.hits().hits().size() + " hits");
        for (Hit<ObjectNode> h : r.hits().hits()) {
            System.out.printf("  %.4f  d=%-2d  %-5s %-22s %s%n", h.score(), hamming(code, h.source().path(field).asText()),
                h.id(), h.source().path("label").asText(), h.source().path("subgroup").asText());
        }
    }

    static void check(boolean ok, String what) {
        checks++;
        if (!ok) {
            failures.add(what);
            System.out.println("  FAILED: " + what);
        }
    }
}
