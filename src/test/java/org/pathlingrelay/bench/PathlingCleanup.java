package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Deletes resources from a real Pathling, one DELETE at a time per type (overlapping writes to a
 * type fail there) and types in parallel, printing progress: Pathling has no bulk delete, each
 * DELETE is its own job of a few seconds.
 */
final class PathlingCleanup {

  private static final long PROGRESS_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** @param absent deletes Pathling answered 404 (already gone) */
  record Result(int deleted, int absent, double seconds) {}

  private final PathlingDirect pathling;
  private final int parallelTypes;
  private final Consumer<String> progress;

  PathlingCleanup(PathlingDirect pathling, int parallelTypes, Consumer<String> progress) {
    this.pathling = pathling;
    this.parallelTypes = parallelTypes;
    this.progress = progress;
  }

  /** Deletes {@code keys} ({@code Type/id}); fails with the first error, after the other types finished. */
  Result delete(List<String> keys) throws Exception {
    Map<String, List<String>> byType = new LinkedHashMap<>();
    for (String key : keys) {
      byType.computeIfAbsent(key.substring(0, key.indexOf('/')), type -> new ArrayList<>()).add(key);
    }
    long started = System.nanoTime();
    AtomicInteger deleted = new AtomicInteger();
    AtomicInteger absent = new AtomicInteger();
    long[] lastReport = {started};
    progress.accept(String.format(Locale.ROOT, "cleanup: deleting %,d resource(s) of %d type(s), %d type(s) at a time",
        keys.size(), byType.size(), parallelTypes));
    ExecutorService workers = Executors.newFixedThreadPool(Math.max(1, Math.min(parallelTypes, byType.size())));
    try {
      List<Future<?>> done = new ArrayList<>();
      for (List<String> ofType : byType.values()) {
        done.add(workers.submit(() -> {
          for (String key : ofType) {
            if (!pathling.delete(key)) {
              absent.incrementAndGet();
            }
            int count = deleted.incrementAndGet();
            report(count, keys.size(), started, lastReport);
          }
          return null;
        }));
      }
      Exception failure = null;
      for (Future<?> future : done) {
        try {
          future.get();
        } catch (ExecutionException e) {
          failure = failure != null ? failure
              : e.getCause() instanceof Exception cause ? cause : new IllegalStateException(e.getCause());
        }
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      workers.shutdownNow();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    progress.accept(String.format(Locale.ROOT, "cleanup: deleted %,d resource(s) in %.0f s (%d already gone)",
        keys.size(), seconds, absent.get()));
    return new Result(keys.size() - absent.get(), absent.get(), seconds);
  }

  private void report(int count, int total, long started, long[] lastReport) {
    long now = System.nanoTime();
    synchronized (lastReport) {
      if (now - lastReport[0] < PROGRESS_EVERY_NANOS) {
        return;
      }
      lastReport[0] = now;
    }
    double seconds = (now - started) / 1e9;
    progress.accept(String.format(Locale.ROOT, "cleanup: %,d/%,d deleted in %.0f s, about %.0f s left",
        count, total, seconds, seconds / count * (total - count)));
  }
}
