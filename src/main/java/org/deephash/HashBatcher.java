package org.deephash;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.elasticsearch.common.util.concurrent.EsRejectedExecutionException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;

/**
 * Dynamic batching: items submitted under the same key (a model and the entry points to run) queue in
 * that key's lane, and workers on an executor take them out in batches of at most {@link #maxSize()}
 * for one {@link Runner} call, so that documents of one bulk request, and of concurrent ones, share an
 * inference call.
 *
 * <p>A batch never waits to fill on an idle lane: the first item runs at once, so a lone document is
 * as fast as without batching. While a batch of the lane is running, items that arrive meanwhile
 * gather, and a worker that finds fewer than {@link #maxSize()} waits at most {@link #maxWaitNanos()}
 * from the oldest one's arrival for more (Triton's dynamic batcher has the same two caps), and stops
 * waiting as soon as no item has arrived for a quarter of that: the documents of a bulk request arrive
 * microseconds apart, while a few single-document requests in flight are all there at once, and
 * waiting the whole cap for a batch that cannot fill would leave a core idle. A lane has at
 * most {@code workersPerLane} workers, the executor's width, so a burst of documents turns into full
 * batches on every thread rather than into single-document tasks; and a worker takes at most its share
 * of what is waiting (the queue divided by that width), since a batch runs on one core: four documents
 * in flight on two cores run two and two, not one and three.
 *
 * <p>Back-pressure: at most {@code maxQueued} items wait in all lanes together; one more is refused with
 * {@link EsRejectedExecutionException} (a 429, as a full thread-pool queue gives), and so is every item
 * of a lane whose worker the executor refuses.
 */
final class HashBatcher<K, T> {
    private static final Logger LOGGER = LogManager.getLogger(HashBatcher.class);

    /** An item and when it was submitted ({@link System#nanoTime()}). */
    record Queued<T>(T item, long queuedAtNanos) {}

    /** Runs one batch; it must complete every item of it, and not throw. */
    interface Runner<K, T> {
        void run(K key, List<Queued<T>> batch);
    }

    private static final class Lane<T> {
        final ArrayDeque<Queued<T>> queue = new ArrayDeque<>();
        /** Workers started for this lane and not yet exited. */
        int workers;
        /** Workers running a batch now. */
        int busy;
        /** When the last item arrived ({@link System#nanoTime()}). */
        long lastArrivalNanos;
    }

    private final String name;
    private final Executor executor;
    private final int workersPerLane;
    private final int maxQueued;
    private final Runner<K, T> runner;
    private final BiConsumer<T, Exception> reject;
    private final LongSupplier nanoTime;
    private final Map<K, Lane<T>> lanes = new ConcurrentHashMap<>();
    private final AtomicInteger queued = new AtomicInteger();
    private volatile int maxSize;
    private volatile long maxWaitNanos;

    /**
     * @param name           names the queue in rejections, e.g. {@code deep_hash}
     * @param workersPerLane at most this many batches of one lane run at once (the executor's threads)
     * @param maxQueued      at most this many items wait in all lanes together
     * @param reject         fails an item that cannot be run (its lane's worker was refused)
     */
    HashBatcher(
        String name,
        Executor executor,
        int workersPerLane,
        int maxQueued,
        int maxSize,
        long maxWaitNanos,
        Runner<K, T> runner,
        BiConsumer<T, Exception> reject,
        LongSupplier nanoTime
    ) {
        if (workersPerLane < 1 || maxQueued < 1) {
            throw new IllegalArgumentException("workers [" + workersPerLane + "] and queue size [" + maxQueued + "] must be at least 1");
        }
        this.name = name;
        this.executor = executor;
        this.workersPerLane = workersPerLane;
        this.maxQueued = maxQueued;
        this.runner = runner;
        this.reject = reject;
        this.nanoTime = nanoTime;
        setLimits(maxSize, maxWaitNanos);
    }

    /** The caps for batches taken from now on: {@code maxSize} 1 runs every item alone. */
    void setLimits(int maxSize, long maxWaitNanos) {
        if (maxSize < 1 || maxWaitNanos < 0) {
            throw new IllegalArgumentException("the batch size [" + maxSize + "] must be at least 1 and the wait [" + maxWaitNanos + "ns] at least 0");
        }
        this.maxSize = maxSize;
        this.maxWaitNanos = maxWaitNanos;
    }

    int maxSize() {
        return maxSize;
    }

    long maxWaitNanos() {
        return maxWaitNanos;
    }

    /** Items waiting now, in all lanes. */
    int queued() {
        return queued.get();
    }

    /**
     * Queues {@code item} in {@code key}'s lane, starting a worker if the lane has fewer than its
     * share; the item is then completed by the {@link Runner}, or by {@code reject}.
     *
     * @throws EsRejectedExecutionException when {@code maxQueued} items are waiting already
     */
    void submit(K key, T item) {
        if (queued.incrementAndGet() > maxQueued) {
            queued.decrementAndGet();
            throw new EsRejectedExecutionException(
                "rejected: [" + maxQueued + "] items are already waiting to be hashed on [" + name + "]; retry later or send smaller bulk requests",
                false
            );
        }
        Lane<T> lane = lanes.computeIfAbsent(key, k -> new Lane<>());
        boolean start;
        synchronized (lane) {
            long now = nanoTime.getAsLong();
            lane.queue.addLast(new Queued<>(item, now));
            lane.lastArrivalNanos = now;
            start = lane.workers < workersPerLane;
            if (start) {
                lane.workers++;
            } else if (lane.queue.size() >= maxSize) {
                lane.notifyAll();
            }
        }
        if (start) {
            try {
                executor.execute(() -> drain(key, lane));
            } catch (RuntimeException e) {
                refused(lane, e);
            }
        }
    }

    /** The executor refused a worker: if the lane has no other, nobody would take its items, so they fail. */
    private void refused(Lane<T> lane, RuntimeException e) {
        List<Queued<T>> orphans = new ArrayList<>();
        synchronized (lane) {
            lane.workers--;
            if (lane.workers == 0) {
                orphans.addAll(lane.queue);
                lane.queue.clear();
            }
        }
        queued.addAndGet(-orphans.size());
        for (Queued<T> q : orphans) {
            try {
                reject.accept(q.item(), e);
            } catch (RuntimeException failure) {
                LOGGER.warn("failing a document the [" + name + "] pool refused failed", failure);
            }
        }
    }

    private void drain(K key, Lane<T> lane) {
        while (true) {
            List<Queued<T>> batch;
            synchronized (lane) {
                int size = maxSize;
                long wait = maxWaitNanos;
                // Another batch of this lane is running: documents are arriving faster than they are
                // hashed, so a short wait fills this batch. On an idle lane nothing is gained by waiting.
                while (lane.queue.isEmpty() == false && lane.queue.size() < size && lane.busy > 0 && wait > 0) {
                    long deadline = Math.min(lane.queue.peekFirst().queuedAtNanos() + wait, lane.lastArrivalNanos + Math.max(1, wait / 4));
                    long left = deadline - nanoTime.getAsLong();
                    if (left <= 0) {
                        break;
                    }
                    try {
                        TimeUnit.NANOSECONDS.timedWait(lane, left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
                // Empty from the start, or another worker of the lane took the items while this one waited.
                if (lane.queue.isEmpty()) {
                    lane.workers--;
                    return;
                }
                // A batch runs on one thread: with few items waiting, a worker takes its share, not all of
                // them, so that the lane's other workers (on other cores) get some as soon as they are free.
                int n = Math.min(size, (lane.queue.size() + workersPerLane - 1) / workersPerLane);
                batch = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    batch.add(lane.queue.pollFirst());
                }
                lane.busy++;
            }
            queued.addAndGet(-batch.size());
            try {
                runner.run(key, batch);
            } catch (RuntimeException | AssertionError e) {
                LOGGER.error("a batch of [" + batch.size() + "] on [" + name + "] was not completed", e);
            } finally {
                synchronized (lane) {
                    lane.busy--;
                }
            }
        }
    }
}
