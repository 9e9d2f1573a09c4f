package org.deephash.model;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * One node's hashing counters: items hashed by who asked (ingest, query, API), inference calls and
 * their latency per entry point, and errors by kind. Lock-free; {@link #snapshot()} gives plain maps
 * of numbers, the shape of {@code GET _deep_hash/stats}.
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
    }

    private final Map<Caller, LongAdder> hashed = new EnumMap<>(Caller.class);
    private final Map<ModelConfig.EntryPoint, Timer> inference = new EnumMap<>(ModelConfig.EntryPoint.class);
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();

    public HashStats() {
        for (Caller c : Caller.values()) {
            hashed.put(c, new LongAdder());
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
    }

    /** One error of {@code kind} (an {@link InputException.Kind}'s JSON name, or {@code inference_failed}). */
    public void error(String kind) {
        errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    /** Counts an exception by its kind: an {@link InputException}'s, else {@code inference_failed}. */
    public void error(Exception e) {
        error(e instanceof InputException input ? input.kind().jsonName() : "inference_failed");
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
            m.put("max_time_in_millis", t.maxNanos.get() / 1e6);
            perEntry.put(e.getKey().jsonName(), m);
        }
        out.put("inference", perEntry);
        Map<String, Object> errorCounts = new TreeMap<>();
        errors.forEach((k, v) -> errorCounts.put(k, v.sum()));
        out.put("errors", errorCounts);
        return out;
    }
}
