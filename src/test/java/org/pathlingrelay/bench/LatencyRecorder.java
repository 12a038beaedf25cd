package org.pathlingrelay.bench;

import java.util.concurrent.atomic.AtomicInteger;

/** Collects durations (nanoseconds) from many threads into a fixed array; percentiles on demand. */
final class LatencyRecorder {

  private final long[] nanos;
  private final AtomicInteger count = new AtomicInteger();

  LatencyRecorder(int capacity) {
    this.nanos = new long[capacity];
  }

  void record(long durationNanos) {
    int slot = count.getAndIncrement();
    if (slot < nanos.length) {
      nanos[slot] = Math.max(0, durationNanos);
    }
  }

  int count() {
    return Math.min(count.get(), nanos.length);
  }

  /** The recorded durations, ascending, in milliseconds at the given percentile. */
  double percentileMillis(double percentile) {
    return Percentiles.of(Percentiles.sortedCopy(nanos, count()), percentile) / 1_000_000.0;
  }
}
