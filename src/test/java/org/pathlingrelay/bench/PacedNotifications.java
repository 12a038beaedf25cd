package org.pathlingrelay.bench;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;

/**
 * An open-loop stream: notification {@code i} is due at {@code i / rate} seconds, whatever the
 * earlier ones are doing (a slow answer does not slow the source down). Records when each one was
 * acknowledged.
 */
final class PacedNotifications {

  /**
   * When each notification was acknowledged ({@link System#nanoTime()}; 0 if it was not); {@code
   * startedAt} is when the stream began (notification {@code i} was due {@code i / rate} later).
   */
  record Result(HapiNotifications.Notification[] sent, long[] acknowledgedAt, int failed, double lateSeconds,
      long startedAt) {}

  private final HapiNotifications client;
  private final int concurrency;

  PacedNotifications(HapiNotifications client, int concurrency) {
    this.client = client;
    this.concurrency = concurrency;
  }

  Result run(String fhirBase, int rate, Duration duration, IntFunction<HapiNotifications.Notification> notifications)
      throws InterruptedException {
    int count = (int) Math.max(1, rate * duration.toMillis() / 1000);
    HapiNotifications.Notification[] sent = new HapiNotifications.Notification[count];
    long[] acknowledged = new long[count];
    AtomicInteger failed = new AtomicInteger();
    ExecutorService senders = Executors.newFixedThreadPool(concurrency, runnable -> {
      Thread thread = new Thread(runnable, "bench-stream");
      thread.setDaemon(true);
      return thread;
    });
    long start = System.nanoTime();
    long periodNanos = 1_000_000_000L / rate;
    long lateNanos = 0;
    try {
      for (int i = 0; i < count; i++) {
        long due = start + i * periodNanos;
        long wait;
        while ((wait = due - System.nanoTime()) > 0) {
          LockSupport.parkNanos(wait);
        }
        lateNanos = Math.max(lateNanos, -wait);
        HapiNotifications.Notification notification = notifications.apply(i);
        sent[i] = notification;
        int index = i;
        senders.execute(() -> {
          try {
            int status = client.send(fhirBase, notification);
            if (status >= 200 && status <= 299) {
              acknowledged[index] = System.nanoTime();
            } else {
              failed.incrementAndGet();
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
      }
      senders.shutdown();
      if (!senders.awaitTermination(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("notifications still unanswered 60 s after the stream ended");
      }
    } finally {
      senders.shutdownNow();
    }
    return new Result(sent, acknowledged, failed.get(), lateNanos / 1e9, start);
  }
}
