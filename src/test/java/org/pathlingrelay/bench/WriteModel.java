package org.pathlingrelay.bench;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.pathlingrelay.testing.OneWritePerType;
import org.pathlingrelay.testing.PathlingCost;

/**
 * The cost and the one rule of Pathling's writes, as the test fake has them ({@link PathlingCost},
 * {@link OneWritePerType}), charged without CPU: the thread parks. Counts what it applied, and when
 * each resource was done if asked to.
 */
final class WriteModel {

  /** What the model has done so far. */
  record Stats(long writeRequests, long entries, long conflicts, long importedLines) {}

  private final PathlingCost cost;
  private final boolean recordCompletions;
  private final OneWritePerType inFlight = new OneWritePerType();
  private final Map<String, Long> completedAt = new ConcurrentHashMap<>();
  private final AtomicLong writeRequests = new AtomicLong();
  private final AtomicLong entries = new AtomicLong();
  private final AtomicLong importedLines = new AtomicLong();
  private final ReentrantLock progressLock = new ReentrantLock();
  private final Condition progressed = progressLock.newCondition();

  WriteModel(PathlingCost cost, boolean recordCompletions) {
    this.cost = cost;
    this.recordCompletions = recordCompletions;
  }

  /**
   * Writes {@code resources} resources of these types (a PUT or a batch); {@code keys} are the
   * resources' {@code Type/id}. False, with nothing applied, on a conflict. The cost runs from
   * {@code arrivedNanos}, when the request's body was in: a real Pathling's cost was measured from
   * request to answer, so it includes parsing the body, which the model has already spent CPU on
   * by now and must not charge twice.
   */
  boolean write(Set<String> types, Collection<String> keys, long arrivedNanos) {
    try (OneWritePerType.Claim claim = inFlight.claim(types)) {
      if (claim.conflict().isPresent()) {
        return false;
      }
      writeRequests.incrementAndGet();
      spendUntil(arrivedNanos + cost.nanosFor(keys.size()));
      if (recordCompletions) {
        long now = System.nanoTime();
        for (String key : keys) {
          completedAt.put(key, now);
        }
      }
      entries.addAndGet(keys.size());
    }
    signal();
    return true;
  }

  /** An import of one type's lines (Pathling writes the types of an import one after another). */
  boolean importType(String type, long lines) {
    try (OneWritePerType.Claim claim = inFlight.claim(Set.of(type))) {
      if (claim.conflict().isPresent()) {
        return false;
      }
      spendUntil(System.nanoTime() + cost.nanosFor(lines));
      importedLines.addAndGet(lines);
    }
    signal();
    return true;
  }

  /** The modelled work: parks the request's thread, costing no CPU. */
  private static void spendUntil(long end) {
    long left;
    while ((left = end - System.nanoTime()) > 0) {
      LockSupport.parkNanos(left);
    }
  }

  private void signal() {
    progressLock.lock();
    try {
      progressed.signalAll();
    } finally {
      progressLock.unlock();
    }
  }

  /** Waits until at least {@code count} resources (entries or imported lines) are written. */
  boolean awaitWritten(long count, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    progressLock.lock();
    try {
      while (entries.get() + importedLines.get() < count) {
        long left = end - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        progressed.await(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)), TimeUnit.NANOSECONDS);
      }
      return true;
    } finally {
      progressLock.unlock();
    }
  }

  /** When the write of {@code Type/id} was done ({@link System#nanoTime()}), if recorded. */
  OptionalLong completedAt(String key) {
    Long at = completedAt.get(key);
    return at == null ? OptionalLong.empty() : OptionalLong.of(at);
  }

  Stats stats() {
    return new Stats(writeRequests.get(), entries.get(), inFlight.conflicts(), importedLines.get());
  }
}
