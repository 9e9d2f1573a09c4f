package org.deephash;

import org.elasticsearch.common.util.concurrent.EsRejectedExecutionException;
import org.elasticsearch.test.ESTestCase;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.lessThanOrEqualTo;

/** The batcher alone: every item completed exactly once, in batches of its own lane and within the caps; refusals. */
public class HashBatcherTests extends ESTestCase {

    private record Item(int lane, int id) {}

    /**
     * Several threads submit items to three lanes while batches take a random while: each item is run
     * once, in a batch of its own lane of at most max_size items, and the running never exceeds the
     * workers a lane may have.
     */
    public void testEveryItemRunsOnceInABatchOfItsLane() throws Exception {
        int threads = between(1, 4);
        ExecutorService pool = DeepHashServiceTests.pool(threads, 1000);
        int maxSize = between(1, 16);
        int submitters = between(1, 4);
        int perSubmitter = between(50, 200);
        Map<Integer, Integer> runs = new ConcurrentHashMap<>();
        Map<Integer, AtomicInteger> running = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(submitters * perSubmitter);
        AtomicInteger batches = new AtomicInteger();
        HashBatcher<Integer, Item> batcher = new HashBatcher<>("test", pool, threads, 100_000, maxSize, TimeUnit.MILLISECONDS.toNanos(1), (lane, batch) -> {
            batches.incrementAndGet();
            int now = running.computeIfAbsent(lane, l -> new AtomicInteger()).incrementAndGet();
            if (now > threads) {
                problems.add("lane " + lane + " ran " + now + " batches at once");
            }
            if (batch.isEmpty() || batch.size() > maxSize) {
                problems.add("a batch of " + batch.size());
            }
            for (HashBatcher.Queued<Item> q : batch) {
                if (q.item().lane() != lane) {
                    problems.add("item " + q.item() + " in lane " + lane);
                }
                runs.merge(q.item().id(), 1, Integer::sum);
            }
            if (randomBoolean()) {
                try {
                    Thread.sleep(between(0, 2));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            running.get(lane).decrementAndGet();
            batch.forEach(q -> done.countDown());
        }, (item, e) -> problems.add("refused " + item + ": " + e), System::nanoTime);
        List<Thread> senders = new ArrayList<>();
        for (int s = 0; s < submitters; s++) {
            int first = s * perSubmitter;
            Thread t = new Thread(() -> {
                for (int i = first; i < first + perSubmitter; i++) {
                    batcher.submit(i % 3, new Item(i % 3, i));
                }
            });
            senders.add(t);
            t.start();
        }
        for (Thread t : senders) {
            t.join();
        }
        assertTrue(done.await(60, TimeUnit.SECONDS));
        assertEquals(List.of(), problems);
        assertEquals(submitters * perSubmitter, runs.size());
        assertTrue(runs.toString(), runs.values().stream().allMatch(count -> count == 1));
        assertThat(batches.get(), lessThanOrEqualTo(submitters * perSubmitter));
        if (maxSize == 1) {
            assertEquals(submitters * perSubmitter, batches.get());
        }
        assertBusy(() -> assertEquals(0, batcher.queued()));
        terminate(pool);
    }

    /** On an idle lane a lone item runs at once, alone, on the submitter's executor call (here the calling thread). */
    public void testALoneItemDoesNotWait() {
        List<Integer> sizes = new ArrayList<>();
        HashBatcher<String, Integer> batcher = new HashBatcher<>(
            "test",
            Runnable::run,
            2,
            10,
            32,
            TimeUnit.SECONDS.toNanos(10),
            (lane, batch) -> sizes.add(batch.size()),
            (item, e) -> fail("refused"),
            System::nanoTime
        );
        long start = System.nanoTime();
        batcher.submit("a", 1);
        batcher.submit("a", 2);
        assertEquals(List.of(1, 1), sizes);
        assertThat("no wait for a batch to fill on an idle lane", TimeUnit.SECONDS.toNanos(10), greaterThan(System.nanoTime() - start));
    }

    /**
     * While a batch runs, a second worker waits for its batch to fill, but only while items keep coming:
     * with max_wait 10 s and nothing arriving after the one item, it runs after about a quarter of the cap.
     */
    public void testTheWaitEndsWhenItemsStopComing() throws Exception {
        ExecutorService pool = DeepHashServiceTests.pool(2, 10);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch secondRan = new CountDownLatch(1);
        long[] secondStarted = new long[1];
        HashBatcher<String, Integer> batcher = new HashBatcher<>("test", pool, 2, 10, 8, TimeUnit.SECONDS.toNanos(10), (lane, batch) -> {
            if (batch.get(0).item() == 0) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            } else {
                secondStarted[0] = System.nanoTime();
                secondRan.countDown();
            }
        }, (item, e) -> fail("refused"), System::nanoTime);
        batcher.submit("a", 0);
        assertBusy(() -> assertEquals(0, batcher.queued()));
        long submitted = System.nanoTime();
        batcher.submit("a", 1);
        assertTrue(secondRan.await(30, TimeUnit.SECONDS));
        long waited = secondStarted[0] - submitted;
        assertThat("waited for more items while the first batch ran", waited, greaterThan(TimeUnit.MILLISECONDS.toNanos(2000)));
        assertThat("but not the whole cap once none came", waited, lessThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(9000)));
        release.countDown();
        terminate(pool);
    }

    /**
     * A worker waits for its batch to fill while another batch of its lane runs; that other worker, done, takes
     * the waiting item first. The waiter wakes to an empty lane and leaves: no exception, no worker slot kept.
     * (Seen on a 9.1 node: a NullPointerException ended the waiter and its lane kept counting it as a worker.)
     */
    public void testAWaiterWhoseItemsWereTakenLeaves() throws Exception {
        List<Runnable> held = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        List<Integer> ran = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch releaseFirst = new CountDownLatch(1);
        CountDownLatch secondTaken = new CountDownLatch(1);
        CountDownLatch releaseSecond = new CountDownLatch(1);
        HashBatcher<String, Integer> batcher = new HashBatcher<>("test", held::add, 2, 10, 8, TimeUnit.SECONDS.toNanos(10), (lane, batch) -> {
            batch.forEach(q -> ran.add(q.item()));
            if (batch.get(0).item() == 1) {
                secondTaken.countDown();
            }
            try {
                (batch.get(0).item() == 0 ? releaseFirst : releaseSecond).await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, (item, e) -> fail("refused"), System::nanoTime);
        batcher.submit("a", 0);
        Thread first = start(held.remove(0), failures);           // runs item 0 and holds the lane busy
        assertBusy(() -> assertEquals(0, batcher.queued()));
        batcher.submit("a", 1);
        Thread waiter = start(held.remove(0), failures);          // finds 1 item of 8 while a batch runs: waits (2.5 s here)
        assertBusy(() -> assertEquals(Thread.State.TIMED_WAITING, waiter.getState()));
        releaseFirst.countDown();                                  // the first worker takes item 1 and stays busy with it
        assertTrue(secondTaken.await(30, TimeUnit.SECONDS));
        waiter.join(30_000);
        assertFalse("the waiter left once its wait ended", waiter.isAlive());
        releaseSecond.countDown();
        first.join(30_000);
        assertEquals(List.of(), failures);
        assertEquals(List.of(0, 1), ran);
        // Both workers are gone, so two new items start two new workers.
        batcher.submit("a", 2);
        batcher.submit("a", 3);
        assertEquals("workers started for items 2 and 3", 2, held.size());
    }

    private static Thread start(Runnable task, List<Throwable> failures) {
        Thread t = new Thread(() -> {
            try {
                task.run();
            } catch (Throwable e) {
                failures.add(e);
            }
        });
        t.start();
        return t;
    }

    /** Over max_queued an item is refused with a 429; a worker the executor refuses fails its lane's items through reject. */
    public void testRefusals() {
        List<Runnable> held = new ArrayList<>();
        List<Integer> rejected = new ArrayList<>();
        HashBatcher<String, Integer> batcher = new HashBatcher<>("deep_hash", held::add, 1, 2, 8, 0, (lane, batch) -> {}, (item, e) -> {
            assertEquals("pool shut down", e.getMessage());
            rejected.add(item);
        }, System::nanoTime);
        batcher.submit("a", 1);
        batcher.submit("a", 2);
        EsRejectedExecutionException e = expectThrows(EsRejectedExecutionException.class, () -> batcher.submit("a", 3));
        assertEquals("rejected: [2] items are already waiting to be hashed on [deep_hash]; retry later or send smaller bulk requests", e.getMessage());
        assertEquals(1, held.size());
        assertEquals(2, batcher.queued());

        HashBatcher<String, Integer> refusing = new HashBatcher<>("deep_hash", task -> {
            throw new EsRejectedExecutionException("pool shut down", true);
        }, 1, 10, 8, 0, (lane, batch) -> fail("nothing runs"), (item, failure) -> rejected.add(item), System::nanoTime);
        refusing.submit("b", 7);
        assertEquals(List.of(7), rejected);
        assertEquals(0, refusing.queued());
    }
}
