package org.pathlingrelay.backfill;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a backfill reports its phases: export job, downloads, forwarding. A terminal shows bars;
 * anything else gets {@link #log()}, a line every few seconds.
 */
public interface BackfillProgress {

  default void exportRunning(String progress) {}

  default void downloadsStarted(int files) {}

  default void fileDone() {}

  default void queued(long changes) {}

  /** Called repeatedly while waiting for Pathling to take what was queued. */
  default void forwarding(long pending) {}

  /** Nothing gets through to Pathling; {@code problem} says why (it is logged as well). */
  default void forwardingStalled(String problem) {}

  default void finished() {}

  static BackfillProgress log() {
    return new LogProgress();
  }

  /** A log line every five seconds at most, with rates. */
  final class LogProgress implements BackfillProgress {
    private static final Logger log = LoggerFactory.getLogger(Backfill.class);
    private static final long EVERY_NANOS = 5_000_000_000L;
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong filesDone = new AtomicLong();
    private volatile int files;
    private volatile long started = System.nanoTime();
    private volatile long lastLog = System.nanoTime();

    @Override
    public void exportRunning(String progress) {
      log.info("Export in progress: {}", progress);
    }

    @Override
    public void downloadsStarted(int files) {
      this.files = files;
      started = System.nanoTime();
    }

    @Override
    public void fileDone() {
      filesDone.incrementAndGet();
      maybeLog();
    }

    @Override
    public void queued(long changes) {
      queued.addAndGet(changes);
      maybeLog();
    }

    private volatile long lastLoggedPending = -1;

    /** Only while the count moves: a stall is reported, with its cause, by the wait itself. */
    @Override
    public void forwarding(long pending) {
      if (pending != lastLoggedPending && due()) {
        lastLoggedPending = pending;
        log.info("Backfill: {} change(s) still to be forwarded to Pathling", pending);
      }
    }

    private void maybeLog() {
      if (due()) {
        double seconds = Math.max((System.nanoTime() - started) / 1e9, 0.001);
        log.info("Backfill: {} of {} file(s) loaded, {} change(s) queued ({} /s)",
            filesDone.get(), files, queued.get(), Math.round(queued.get() / seconds));
      }
    }

    private synchronized boolean due() {
      long now = System.nanoTime();
      if (now - lastLog < EVERY_NANOS) {
        return false;
      }
      lastLog = now;
      return true;
    }
  }
}
