package org.pathlingrelay.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Pathling's own CPU, shared by the requests it is working on (processor sharing): a request's
 * cost is what it takes alone; with {@code n} requests in progress on {@code cores} cores, each
 * progresses at {@code min(1, cores / n)} of that speed. So four writes of different types at once
 * on 2 cores each take twice their own time. The caller's thread parks meanwhile and costs no CPU
 * here. With 0 cores, nothing is shared: each request just takes its own time.
 */
public final class PathlingCpu {

  private final int cores;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final List<Work> working = new ArrayList<>(); // guarded by lock
  private long advancedAt = System.nanoTime(); // guarded by lock

  /** One request's work, in nanoseconds of running alone. */
  private static final class Work {
    double left;

    Work(double left) {
      this.left = left;
    }
  }

  public PathlingCpu(int cores) {
    if (cores < 0) {
      throw new IllegalArgumentException("cores must not be negative");
    }
    this.cores = cores;
  }

  /** Spends {@code cost} of Pathling's time (as if alone), sharing the CPU with the others. */
  public void spend(Duration cost) throws InterruptedException {
    long nanos = cost.toNanos();
    if (nanos <= 0) {
      return;
    }
    if (cores == 0) {
      TimeUnit.NANOSECONDS.sleep(nanos);
      return;
    }
    Work work = new Work(nanos);
    lock.lock();
    try {
      advance();
      working.add(work);
      changed.signalAll();
      try {
        while (true) {
          advance();
          if (work.left <= 0) {
            break;
          }
          // until done at today's speed; any arrival or departure wakes everyone to re-plan
          changed.awaitNanos((long) Math.ceil(work.left / speed()));
        }
      } finally {
        advance();
        working.remove(work);
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** How many requests are being worked on right now. */
  public int inProgress() {
    lock.lock();
    try {
      return working.size();
    } finally {
      lock.unlock();
    }
  }

  /** Guarded by lock: charges the time since the last change to everyone in progress. */
  private void advance() {
    long now = System.nanoTime();
    double done = (now - advancedAt) * speed();
    advancedAt = now;
    for (Work work : working) {
      work.left -= done;
    }
  }

  /** Guarded by lock. */
  private double speed() {
    return working.isEmpty() ? 1 : Math.min(1.0, (double) cores / working.size());
  }
}
