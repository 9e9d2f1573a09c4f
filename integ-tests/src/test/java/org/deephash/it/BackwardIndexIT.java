package org.deephash.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.deephash.it.ItSupport.Checks;
import org.deephash.it.ItSupport.Es;
import org.deephash.it.ItSupport.Raw;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import static org.deephash.it.ItSupport.JSON;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots taken by earlier builds (integ-tests/src/test/resources/bwc/, written once per on-disk format by
 * integ-tests/bwc/make_bwc.py) restore into this build's node, which must then answer exactly as the
 * writing node did: every live document's codes from doc values, and every recorded hamming query (total,
 * scores, and the documents above the k-th score or within the radius). The snapshot's fs repository is
 * unpacked under the node's path.repo ({@code -Dtests.repo.dir}, set by run.sh) and registered read-only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackwardIndexIT {
    /** One entry per format and the release that wrote it; only ever appended to (as BackwardIndexTests.INDICES). */
    static final List<String> SNAPSHOTS = List.of("fixedbits819-es8.19.21", "fixedbits819v2-es8.19.21");
    static final String PREFIX = "deep-hash-it-bwc-";

    private Es es;
    private Path repoRoot;
    private final List<String> repos = new ArrayList<>();
    private final List<String> indices = new ArrayList<>();

    @BeforeAll
    void setUp() {
        String dir = ItSupport.setting("tests.repo.dir", "TESTS_REPO_DIR");
        Assumptions.assumeTrue(dir != null && !dir.isEmpty(), "no -Dtests.repo.dir (the node's path.repo; integ-tests/run.sh sets it)");
        repoRoot = Path.of(dir);
        es = new Es();
    }

    @AfterAll
    void tearDown() throws IOException {
        if (es == null) {
            return;
        }
        for (String index : indices) {
            es.raw("DELETE", "/" + index + "?ignore_unavailable=true", (String) null);
        }
        for (String repo : repos) {
            es.raw("DELETE", "/_snapshot/" + repo, (String) null);
            deleteTree(repoRoot.resolve(repo));
        }
        es.close();
    }

    @Test
    void everyRecordedSnapshotRestoresAndAnswersAsRecorded() throws IOException {
        Checks checks = new Checks("BackwardIndexIT");
        for (String name : SNAPSHOTS) {
            JsonNode record;
            try (InputStream in = resource(name + ".json")) {
                record = JSON.readTree(in);
            }
            String repo = PREFIX + name;
            Path location = repoRoot.resolve(repo);
            deleteTree(location);
            unzip(name + "-snapshot.zip", location);
            repos.add(repo);
            Raw r = es.raw("PUT", "/_snapshot/" + repo,
                "{\"type\": \"fs\", \"settings\": {\"location\": " + JSON.writeValueAsString(location.toString()) + ", \"readonly\": true}}");
            assertEquals(200, r.status(), "registering the snapshot repository (is path.repo the node's?)\n  " + r.describe());
            String source = record.get("index").asText();
            String index = PREFIX + source;
            indices.add(index);
            r = es.raw("POST", "/_snapshot/" + repo + "/snapshot/_restore?wait_for_completion=true",
                "{\"indices\": \"" + source + "\", \"rename_pattern\": \"(.+)\", \"rename_replacement\": \"" + PREFIX + "$1\"}");
            assertEquals(200, r.status(), r.describe());
            assertEquals(0, r.json().get("snapshot").get("shards").get("failed").asInt(), r.describe());
            Raw settings = es.raw("GET", "/" + index + "/_settings/index.deep_hash.codec", (String) null);
            checks.check(settings.text().contains("\"true\""), () -> name + ": the restored index keeps index.deep_hash.codec: " + settings.text());
            checkCodes(checks, name, index, record);
            checkQueries(checks, name, index, record);
        }
        checks.assertNone();
    }

    private void checkCodes(Checks checks, String name, String index, JsonNode record) throws IOException {
        ObjectNode body = JSON.createObjectNode();
        body.put("size", 10_000).put("_source", false);
        body.putArray("sort").addObject().put("doc_id", "asc");
        var fields = body.putArray("docvalue_fields").add("doc_id");
        record.get("fields").fieldNames().forEachRemaining(fields::add);
        Raw r = es.raw("POST", "/" + index + "/_search", body);
        assertEquals(200, r.status(), r.describe());
        Map<String, Map<String, String>> found = new TreeMap<>();
        for (JsonNode hit : r.json().get("hits").get("hits")) {
            Map<String, String> codes = new TreeMap<>();
            hit.get("fields").fields().forEachRemaining(f -> {
                if (!f.getKey().equals("doc_id")) {
                    codes.put(f.getKey(), f.getValue().get(0).asText());
                }
            });
            found.put(hit.get("fields").get("doc_id").get(0).asText(), codes);
        }
        Map<String, Map<String, String>> expected = new TreeMap<>();
        record.get("docs").fields().forEachRemaining(e -> {
            Map<String, String> codes = new TreeMap<>();
            e.getValue().fields().forEachRemaining(c -> codes.put(c.getKey(), c.getValue().asText()));
            expected.put(e.getKey(), codes);
        });
        checks.check(expected.equals(found), () -> name + ": every live document's codes after the restore (" + found.size()
            + " documents, " + expected.size() + " recorded)");
    }

    private void checkQueries(Checks checks, String name, String index, JsonNode record) throws IOException {
        for (JsonNode q : record.get("queries")) {
            ObjectNode request = q.get("request").deepCopy();
            request.put("_source", false);
            request.putArray("docvalue_fields").add("doc_id");
            Raw r = es.raw("POST", "/" + index + "/_search", request);
            String what = name + ": " + q.get("request");
            if (!checks.check(r.status() == 200, r::describe)) {
                continue;
            }
            JsonNode hits = r.json().get("hits");
            checks.check(q.get("total").asLong() == hits.get("total").get("value").asLong(),
                () -> what + " total " + hits.get("total") + ", recorded " + q.get("total"));
            List<Double> scores = new ArrayList<>();
            Map<String, Double> got = new TreeMap<>();
            for (JsonNode h : hits.get("hits")) {
                scores.add(h.get("_score").asDouble());
                got.put(h.get("fields").get("doc_id").get(0).asText(), h.get("_score").asDouble());
            }
            List<Double> recordedScores = new ArrayList<>();
            Map<String, Double> recorded = new TreeMap<>();
            for (JsonNode h : q.get("hits")) {
                recordedScores.add(h.get(1).asDouble());
                recorded.put(h.get(0).asText(), h.get(1).asDouble());
            }
            checks.check(recordedScores.equals(scores), () -> what + " scores " + scores + ", recorded " + recordedScores);
            double kth = scores.isEmpty() ? 0 : scores.get(scores.size() - 1);
            boolean all = hits.get("total").get("value").asLong() <= request.get("size").asInt();
            for (Map.Entry<String, Double> e : got.entrySet()) {
                if (all || e.getValue() > kth) {
                    checks.check(e.getValue().equals(recorded.get(e.getKey())),
                        () -> what + " document " + e.getKey() + " scored " + e.getValue() + ", recorded " + recorded.get(e.getKey()));
                }
            }
        }
    }

    private static InputStream resource(String file) {
        InputStream in = BackwardIndexIT.class.getResourceAsStream("/bwc/" + file);
        assertNotNull(in, "missing test resource bwc/" + file + " (integ-tests/bwc/make_bwc.py writes it)");
        return in;
    }

    private static void unzip(String file, Path dir) throws IOException {
        Files.createDirectories(dir);
        try (ZipInputStream zip = new ZipInputStream(resource(file))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                Path target = dir.resolve(e.getName()).normalize();
                assertTrue(target.startsWith(dir), "zip entry outside the directory: " + e.getName());
                Files.createDirectories(target.getParent());
                Files.copy(zip, target);
            }
        }
        // The node may run as another user (nobody, when the tests run as root): readable by all.
        try (var paths = Files.walk(dir)) {
            for (Iterator<Path> it = paths.iterator(); it.hasNext();) {
                Path p = it.next();
                p.toFile().setReadable(true, false);
                if (Files.isDirectory(p)) {
                    p.toFile().setExecutable(true, false);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
