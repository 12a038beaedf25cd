package org.pathlingrelay.bench;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * A closed-loop load: a fixed number of notifications sent by a fixed number of connections, each
 * sending its next as soon as the last one is answered. Gives the rate of acknowledgements and
 * the latency of each.
 */
final class NotificationLoad {

  /** What one run measured. */
  record Result(int sent, int failed, int firstFailureStatus, double seconds, double p50Millis, double p99Millis) {
    double perSecond() {
      return (sent - failed) / seconds;
    }
  }

  private final HapiNotifications client;
  private final int concurrency;

  NotificationLoad(HapiNotifications client, int concurrency) {
    this.client = client;
    this.concurrency = concurrency;
  }

  Result run(String fhirBase, int count, IntFunction<HapiNotifications.Notification> notifications)
      throws InterruptedException {
    LatencyRecorder latencies = new LatencyRecorder(count);
    AtomicInteger next = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger firstFailure = new AtomicInteger(-1);
    ExecutorService senders = Executors.newFixedThreadPool(concurrency, runnable -> {
      Thread thread = new Thread(runnable, "bench-sender");
      thread.setDaemon(true);
      return thread;
    });
    long started = System.nanoTime();
    try {
      Future<?>[] workers = new Future<?>[concurrency];
      for (int w = 0; w < concurrency; w++) {
        workers[w] = senders.submit(() -> {
          int i;
          while ((i = next.getAndIncrement()) < count) {
            HapiNotifications.Notification notification = notifications.apply(i);
            long sent = System.nanoTime();
            int status = client.send(fhirBase, notification);
            latencies.record(System.nanoTime() - sent);
            if (status < 200 || status > 299) {
              failed.incrementAndGet();
              firstFailure.compareAndSet(-1, status);
            }
          }
          return null;
        });
      }
      for (Future<?> worker : workers) {
        worker.get();
      }
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a sender failed: " + e.getCause(), e.getCause());
    } finally {
      senders.shutdownNow();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    return new Result(count, failed.get(), firstFailure.get(), seconds,
        latencies.percentileMillis(50), latencies.percentileMillis(99));
  }
}
