package org.pathlingrelay.backfill;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.DeliveryProgress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits until what a backfill (or a repair) queued has left the outbox. While nothing gets through it says why
 * (at once, then every {@link #REPORT_EVERY}), and it gives up once no change has been delivered
 * for the stall timeout, leaving the changes queued for the next run.
 */
public final class DeliveryWait {

  private static final Logger log = LoggerFactory.getLogger(Backfill.class);
  static final Duration REPORT_EVERY = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(200);

  private final DeliveryProgress forwarding;
  private final Pause pause;
  private final BackfillProgress progress;
  private final DeliveryWatch watch;

  public DeliveryWait(
      DeliveryProgress forwarding, Pause pause, BackfillProgress progress, DeliveryWatch watch) {
    this.forwarding = forwarding;
    this.pause = pause;
    this.progress = progress;
    this.watch = watch;
  }

  /** Returns how many of the run's changes were pending when the wait began. */
  public long await(long upToSeq) throws InterruptedException {
    InstantSource clock = watch.clock();
    long pending = forwarding.pendingUpTo(upToSeq);
    long atStart = pending;
    long fewest = pending;
    Instant lastProgress = clock.instant();
    // Failures from before the wait count until a change gets through: the forwarder starts as
    // soon as the first chunk is queued, and an open circuit makes no new calls to fail.
    Instant failuresSince = Instant.MIN;
    Instant lastReport = null;
    while (pending > 0) {
      progress.forwarding(pending);
      Instant now = clock.instant();
      if (pending < fewest) {
        fewest = pending;
        lastProgress = now;
        failuresSince = now;
      }
      Duration stalled = Duration.between(lastProgress, now);
      Optional<ForwardingTrouble.Failure> failure = watch.trouble().since(failuresSince);
      if (stalled.compareTo(watch.stallTimeout()) >= 0) {
        throw new ForwardingStalledException(
            "no change reached Pathling for " + Durations.text(watch.stallTimeout()) + ": "
                + problem(failure, stalled), pending);
      }
      boolean due = lastReport == null || !now.isBefore(lastReport.plus(REPORT_EVERY));
      if (due && (failure.isPresent() || stalled.compareTo(REPORT_EVERY) >= 0)) {
        lastReport = now;
        String problem = problem(failure, stalled);
        log.warn("{}; {} change(s) wait in the outbox; giving up in {} unless one gets through",
            problem, pending, Durations.text(watch.stallTimeout().minus(stalled)));
        progress.forwardingStalled(problem);
      }
      pause.pause(POLL);
      pending = forwarding.pendingUpTo(upToSeq);
    }
    progress.forwarding(0);
    progress.finished();
    return atStart;
  }

  private String problem(Optional<ForwardingTrouble.Failure> failure, Duration stalled) {
    return failure
        .map(f -> watch.trouble().forwarder() + " is not taking changes: " + f.message())
        .orElse("nothing has been forwarded for " + Durations.text(stalled) + " by " + watch.trouble().forwarder());
  }
}
