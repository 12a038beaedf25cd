package org.pathlingrelay.bench;

import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.pathlingrelay.testing.OneWritePerType;
import org.pathlingrelay.testing.PathlingCost;
import org.pathlingrelay.testing.PathlingCpu;

/**
 * The costs and the one rule of Pathling's writes, as the test fake has them ({@link PathlingCost},
 * {@link PathlingCpu}, {@link OneWritePerType}), charged without CPU: the thread parks. Knows which
 * resources it holds (a delete of one it does not hold is a {@code 404}, cheaper, and fails a
 * batch), counts what it applied and what its requests cost, and when each resource was done if
 * asked to.
 */
final class WriteModel {

  /**
   * What the model has done so far.
   *
   * @param modelledSeconds the sum of the requests' costs, each as if alone ({@link PathlingCost}):
   *     Pathling's time the requests took
   * @param deleteRequests DELETE requests, {@code absentDeletes} of them answered {@code 404}
   */
  record Stats(long writeRequests, long entries, long conflicts, long importedLines, double modelledSeconds,
      long deleteRequests, long absentDeletes) {}

  /** How a write ended. */
  enum Outcome { DONE, CONFLICT, NOT_FOUND }

  private final PathlingCost cost;
  private final PathlingCpu cpu;
  private final boolean recordCompletions;
  private final OneWritePerType inFlight = new OneWritePerType();
  private final Set<String> held = ConcurrentHashMap.newKeySet();
  private final Map<String, Long> completedAt = new ConcurrentHashMap<>();
  private final AtomicLong writeRequests = new AtomicLong();
  private final AtomicLong entries = new AtomicLong();
  private final AtomicLong importedLines = new AtomicLong();
  private final AtomicLong deleteRequests = new AtomicLong();
  private final AtomicLong absentDeletes = new AtomicLong();
  private final DoubleAdder modelledMillis = new DoubleAdder();
  private final ReentrantLock progressLock = new ReentrantLock();
  private final Condition progressed = progressLock.newCondition();

  WriteModel(PathlingCost cost, boolean recordCompletions) {
    this.cost = cost;
    this.cpu = new PathlingCpu(cost.cores());
    this.recordCompletions = recordCompletions;
  }

  /** Resources Pathling holds before the run (what earlier loads left there). */
  void hold(Collection<String> keys) {
    held.addAll(keys);
  }

  /**
   * Writes {@code upserts} and deletes {@code deletes} (a batch, a PUT or a DELETE; keys are
   * {@code Type/id}). Nothing is applied on a conflict, nor when a delete names a resource the
   * model does not hold ({@link Outcome#NOT_FOUND}, which for a single DELETE is Pathling's {@code
   * 404}: the resource is gone, as asked). The cost runs from {@code arrivedNanos}, when the
   * request's body was in: a real Pathling's cost was measured from request to answer, so it
   * includes parsing the body, which the model has already spent CPU on by now and must not
   * charge twice.
   */
  Outcome write(Set<String> types, Collection<String> upserts, Collection<String> deletes, long arrivedNanos) {
    try (OneWritePerType.Claim claim = inFlight.claim(types)) {
      if (claim.conflict().isPresent()) {
        return Outcome.CONFLICT;
      }
      writeRequests.incrementAndGet();
      // Pathling runs a batch's deletes first, one by one, and stops at the first it cannot find.
      long heldDeletes = 0;
      boolean absent = false;
      for (String key : deletes) {
        if (!held.contains(key)) {
          absent = true;
          break;
        }
        heldDeletes++;
      }
      double millis = cost.writeMillis(absent ? 0 : upserts.size(), heldDeletes, absent ? 1 : 0);
      modelledMillis.add(millis);
      boolean single = upserts.isEmpty() && deletes.size() == 1;
      if (single) {
        deleteRequests.incrementAndGet();
        if (absent) {
          absentDeletes.incrementAndGet();
        }
      }
      spend(arrivedNanos, millis);
      if (absent && !single) {
        return Outcome.NOT_FOUND; // the whole batch failed
      }
      held.addAll(upserts);
      held.removeAll(deletes);
      if (recordCompletions) {
        long now = System.nanoTime();
        upserts.forEach(key -> completedAt.put(key, now));
        deletes.forEach(key -> completedAt.put(key, now));
      }
      entries.addAndGet(upserts.size() + deletes.size());
      return absent ? Outcome.NOT_FOUND : Outcome.DONE; // a single DELETE's 404: gone, as asked
    } finally {
      signal();
    }
  }

  /** An import of one type's lines (Pathling writes the types of an import one after another). */
  boolean importType(String type, long lines) {
    try (OneWritePerType.Claim claim = inFlight.claim(Set.of(type))) {
      if (claim.conflict().isPresent()) {
        return false;
      }
      double millis = cost.importDuration(lines).toNanos() / 1e6;
      modelledMillis.add(millis);
      spend(System.nanoTime(), millis);
      importedLines.addAndGet(lines);
    }
    signal();
    return true;
  }

  /**
   * A search by id ({@code _query=fhirPath&filter=id = '..' or ..}): about a count's cost on the
   * shared CPU; reads do not conflict with writes. Returns the keys it holds.
   */
  Set<String> search(Collection<String> keys, long arrivedNanos) {
    double millis = cost.countMs();
    spend(arrivedNanos, millis);
    modelledMillis.add(millis);
    Set<String> found = new HashSet<>();
    for (String key : keys) {
      if (held.contains(key)) {
        found.add(key);
      }
    }
    return found;
  }

  /** The modelled work on Pathling's shared CPU: parks the request's thread, costing no CPU. */
  private void spend(long fromNanos, double millis) {
    long left = Math.round(millis * 1_000_000) - (System.nanoTime() - fromNanos);
    try {
      cpu.spend(Duration.ofNanos(Math.max(0, left)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
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
    return new Stats(writeRequests.get(), entries.get(), inFlight.conflicts(), importedLines.get(),
        modelledMillis.sum() / 1000, deleteRequests.get(), absentDeletes.get());
  }
}
