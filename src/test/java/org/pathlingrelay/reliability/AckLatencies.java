package org.pathlingrelay.reliability;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** How long the relay took to acknowledge each notification, for percentiles. Thread-safe. */
final class AckLatencies {

  private final AtomicLongArray nanos;
  private final AtomicLong count = new AtomicLong();

  AckLatencies(int capacity) {
    nanos = new AtomicLongArray(capacity);
  }

  /** Sends one notification through {@code send} (which answers the HTTP status) and times it. */
  int time(java.util.function.IntSupplier send) {
    long start = System.nanoTime();
    int status = send.getAsInt();
    long index = count.getAndIncrement();
    if (index < nanos.length()) {
      nanos.set((int) index, System.nanoTime() - start);
    }
    return status;
  }

  long count() {
    return Math.min(count.get(), nanos.length());
  }

  Duration percentile(double p) {
    long[] sorted = new long[(int) count()];
    for (int i = 0; i < sorted.length; i++) {
      sorted[i] = nanos.get(i);
    }
    Arrays.sort(sorted);
    if (sorted.length == 0) {
      return Duration.ZERO;
    }
    int index = (int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1);
    return Duration.ofNanos(sorted[Math.max(0, index)]);
  }

  String summary() {
    return String.format("%d acks, p50 %.1f ms, p99 %.1f ms, max %.1f ms", count(),
        percentile(50).toNanos() / 1e6, percentile(99).toNanos() / 1e6, percentile(100).toNanos() / 1e6);
  }
}
