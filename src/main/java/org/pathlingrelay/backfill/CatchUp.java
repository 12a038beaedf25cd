package org.pathlingrelay.backfill;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.pathlingrelay.schedule.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@code sync} inside the server: on a schedule, once at start-up when the watermark is older
 * than the interval, and soon after pings (notifications that said something changed without
 * saying what), debounced so that a burst of pings causes one catch-up. One run at a time.
 *
 * <p>Without a watermark it waits for a backfill instead of exporting everything itself: the
 * README's first run (and compose's) runs a backfill, and a catch-up before it would export the
 * whole source twice. The journal is read again every check, so a backfill run by another
 * process on the same data dir ends the wait.
 */
public final class CatchUp implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CatchUp.class);
  private static final Duration CHECK_EVERY = Duration.ofSeconds(1);

  /** When the last run ended and how. */
  public record Status(Optional<Instant> lastRunEnded, Optional<String> lastOutcome, Optional<Instant> watermark) {}

  private final Backfill backfill;
  private final Function<Optional<Instant>, BackfillPlan> planFor;
  private final Duration interval;
  private final Duration pingDebounce;
  private final LongSupplier pings;
  private final InstantSource clock;
  private final String howToBackfill;
  private final Ticker ticker = new Ticker("catch-up", CHECK_EVERY);

  private Instant lastRun;
  private long pingsSeen;
  private Instant pingDueAt;
  private boolean waitingForBackfill;
  private volatile Status status = new Status(Optional.empty(), Optional.empty(), Optional.empty());

  public CatchUp(
      Backfill backfill,
      Function<Optional<Instant>, BackfillPlan> planFor,
      Duration interval,
      Duration pingDebounce,
      LongSupplier pings,
      InstantSource clock,
      String howToBackfill) {
    this.backfill = backfill;
    this.planFor = planFor;
    this.interval = interval;
    this.pingDebounce = pingDebounce;
    this.pings = pings;
    this.clock = clock;
    this.howToBackfill = howToBackfill;
  }

  public void start() {
    pingsSeen = pings.getAsLong();
    Optional<Instant> watermark = backfill.watermark();
    status = new Status(Optional.empty(), Optional.empty(), watermark);
    boolean stale = watermark.map(w -> w.plus(interval).isBefore(clock.instant())).orElse(true);
    // Without a stale watermark, the first scheduled run is one interval from now.
    lastRun = stale ? Instant.MIN : clock.instant();
    ticker.start(this::check);
  }

  public Status status() {
    return status;
  }

  private void check() {
    Instant now = clock.instant();
    long seen = pings.getAsLong();
    if (seen != pingsSeen) {
      pingsSeen = seen;
      pingDueAt = now.plus(pingDebounce);
    }
    if (!hasWatermark(now)) {
      return;
    }
    boolean scheduled = lastRun == Instant.MIN || !now.isBefore(lastRun.plus(interval));
    boolean pinged = pingDueAt != null && !now.isBefore(pingDueAt);
    if (scheduled || pinged) {
      pingDueAt = null;
      runOnce(pinged && !scheduled ? "ping" : "schedule");
      lastRun = clock.instant();
    }
  }

  /** False, saying so once, while no backfill has completed on the data dir. */
  private boolean hasWatermark(Instant now) {
    Optional<Instant> watermark = backfill.watermark();
    if (watermark.isPresent()) {
      if (waitingForBackfill) {
        waitingForBackfill = false;
        // A backfill just finished: it is as fresh as a catch-up would be.
        lastRun = watermark.get().plus(interval).isBefore(now) ? Instant.MIN : now;
        pingDueAt = null;
        log.info("Catch-up: a backfill completed (watermark {}); catching up every {} from now on",
            watermark.get(), interval);
        status = new Status(status.lastRunEnded(), status.lastOutcome(), watermark);
      }
      return true;
    }
    if (!waitingForBackfill) {
      waitingForBackfill = true;
      log.warn("Catch-up waits for a backfill: no backfill or sync has completed on this data dir, and a"
          + " catch-up without a watermark would export the whole source. Run: {}", howToBackfill);
      status = new Status(status.lastRunEnded(), Optional.of(WAITING), Optional.empty());
    }
    return false;
  }

  /** What {@code /status} shows under {@code catchUp.lastOutcome} until a backfill completes. */
  public static final String WAITING = "waiting for a backfill (no watermark yet)";

  private void runOnce(String reason) {
    Optional<Instant> watermark = backfill.watermark();
    log.info("Catch-up ({}) starting from {}", reason, watermark.map(Object::toString).orElse("the beginning"));
    String outcome;
    try {
      BackfillReport report = backfill.run(planFor.apply(watermark));
      outcome = "ok: " + report.exported() + " resource(s) exported";
      log.info("Catch-up done: {} resource(s) exported, watermark now {}", report.exported(), report.transactionTime());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      outcome = "interrupted";
    } catch (BackfillBusyException e) {
      // A backfill or sync of another process: it sets the watermark this run would have.
      outcome = "skipped: " + e.getMessage();
      log.info("Catch-up skipped: {}", e.getMessage());
    } catch (RuntimeException e) {
      outcome = "failed: " + e.getMessage();
      log.error("Catch-up failed; will try again at the next interval: {}", e.getMessage());
    }
    status = new Status(Optional.of(clock.instant()), Optional.of(outcome), backfill.watermark());
  }

  @Override
  public void close() throws InterruptedException {
    ticker.close();
  }
}
