package org.deephash.model;

import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;
import org.elasticsearch.common.util.concurrent.EsRejectedExecutionException;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * One node's hashing counters since it started: items hashed by who asked (ingest, query, API) and how
 * long each waited for its result, inference calls and their latency per entry point, the ingest
 * batches (their sizes and how long documents waited for one), and errors by kind. Latencies are kept in
 * HdrHistograms (3 significant digits), so that p50 and p99 are exact to 0.1%, not averages.
 * Thread-safe; {@link #snapshot()} gives plain maps of numbers, the shape of {@code GET _deep_hash/stats}.
 */
public final class HashStats {
    /** Who asked for a hash. */
    public enum Caller {
        INGEST("documents_hashed"),
        QUERY("queries_hashed"),
        API("api_requests");

        final String field;

        Caller(String field) {
            this.field = field;
        }
    }

    private static final class Timer {
        final LongAdder calls = new LongAdder();
        final LongAdder items = new LongAdder();
        final LongAdder nanos = new LongAdder();
        final LongAccumulator maxNanos = new LongAccumulator(Math::max, 0);
        final Histogram nanosPerCall = histogram();
    }

    private static Histogram histogram() {
        return new ConcurrentHistogram(3);
    }

    private final Map<Caller, LongAdder> hashed = new EnumMap<>(Caller.class);
    private final Map<ModelConfig.EntryPoint, Timer> inference = new EnumMap<>(ModelConfig.EntryPoint.class);
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final Map<Caller, Histogram> latency = new EnumMap<>(Caller.class);
    private final Histogram batchSizes = histogram();
    private final Histogram batchWaits = histogram();

    public HashStats() {
        for (Caller c : Caller.values()) {
            hashed.put(c, new LongAdder());
            latency.put(c, histogram());
        }
        for (ModelConfig.EntryPoint e : ModelConfig.EntryPoint.values()) {
            inference.put(e, new Timer());
        }
    }

    /** {@code items} hashed for {@code caller} (a document, a query, an API request). */
    public void hashed(Caller caller, int items) {
        hashed.get(caller).add(items);
    }

    /** One inference call of {@code entryPoint} over {@code items} inputs that took {@code nanos}. */
    public void inference(ModelConfig.EntryPoint entryPoint, int items, long nanos) {
        Timer t = inference.get(entryPoint);
        t.calls.increment();
        t.items.add(items);
        t.nanos.add(nanos);
        t.maxNanos.accumulate(nanos);
        t.nanosPerCall.recordValue(Math.max(0, nanos));
    }

    /** One item for {@code caller} got its result (or its error) {@code nanos} after it was asked for. */
    public void latency(Caller caller, long nanos) {
        latency.get(caller).recordValue(Math.max(0, nanos));
    }

    /** One ingest batch of {@code size} documents started. */
    public void batch(int size) {
        batchSizes.recordValue(size);
    }

    /** A document waited {@code nanos} from its arrival to the start of its batch. */
    public void batchWait(long nanos) {
        batchWaits.recordValue(Math.max(0, nanos));
    }

    /** One error of {@code kind} (an {@link InputException.Kind}'s JSON name, or {@code inference_failed}). */
    public void error(String kind) {
        errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    /**
     * Counts an exception by its kind: an {@link InputException}'s, {@code rejected} for a full queue
     * (a 429), else {@code inference_failed}.
     */
    public void error(Exception e) {
        error(
            e instanceof InputException input ? input.kind().jsonName()
                : e instanceof EsRejectedExecutionException ? "rejected"
                : "inference_failed"
        );
    }

    /** The counters now, as nested maps of longs and doubles (times in milliseconds). */
    public Map<String, Object> snapshot() {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Caller c : Caller.values()) {
            out.put(c.field, hashed.get(c).sum());
        }
        Map<String, Object> perEntry = new LinkedHashMap<>();
        for (Map.Entry<ModelConfig.EntryPoint, Timer> e : inference.entrySet()) {
            Timer t = e.getValue();
            long calls = t.calls.sum();
            long nanos = t.nanos.sum();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("calls", calls);
            m.put("inputs", t.items.sum());
            m.put("total_time_in_millis", nanos / 1_000_000);
            m.put("avg_time_in_millis", calls == 0 ? 0.0 : nanos / 1e6 / calls);
            m.put("p50_time_in_millis", millisAt(t.nanosPerCall, 50));
            m.put("p99_time_in_millis", millisAt(t.nanosPerCall, 99));
            m.put("max_time_in_millis", t.maxNanos.get() / 1e6);
            perEntry.put(e.getKey().jsonName(), m);
        }
        out.put("inference", perEntry);
        Map<String, Object> latencies = new LinkedHashMap<>();
        for (Caller c : Caller.values()) {
            Histogram h = latency.get(c);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("count", h.getTotalCount());
            m.put("p50_time_in_millis", millisAt(h, 50));
            m.put("p99_time_in_millis", millisAt(h, 99));
            m.put("max_time_in_millis", h.getTotalCount() == 0 ? 0.0 : h.getMaxValue() / 1e6);
            latencies.put(c.name().toLowerCase(Locale.ROOT), m);
        }
        out.put("latency", latencies);
        Map<String, Object> batches = new LinkedHashMap<>();
        long count = batchSizes.getTotalCount();
        batches.put("batches", count);
        batches.put("documents", batchWaits.getTotalCount());
        batches.put("avg_size", count == 0 ? 0.0 : batchSizes.getMean());
        batches.put("p50_size", count == 0 ? 0 : batchSizes.getValueAtPercentile(50));
        batches.put("p99_size", count == 0 ? 0 : batchSizes.getValueAtPercentile(99));
        batches.put("largest_size", count == 0 ? 0 : batchSizes.getMaxValue());
        // From a document's arrival to the start of its batch: the wait for the batch to fill and for a free thread.
        Map<String, Object> waits = new LinkedHashMap<>();
        waits.put("p50_time_in_millis", millisAt(batchWaits, 50));
        waits.put("p99_time_in_millis", millisAt(batchWaits, 99));
        waits.put("max_time_in_millis", batchWaits.getTotalCount() == 0 ? 0.0 : batchWaits.getMaxValue() / 1e6);
        batches.put("wait", waits);
        out.put("batching", batches);
        Map<String, Object> errorCounts = new TreeMap<>();
        errors.forEach((k, v) -> errorCounts.put(k, v.sum()));
        out.put("errors", errorCounts);
        return out;
    }

    /** The {@code percentile}th value of nanosecond histogram {@code h} in milliseconds; 0 when it is empty. */
    private static double millisAt(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? 0.0 : h.getValueAtPercentile(percentile) / 1e6;
    }
}
