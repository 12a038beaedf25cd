package org.pathlingrelay.receive;

import java.time.Duration;
import java.util.List;
import org.pathlingrelay.outbox.MissedEvents;
import org.pathlingrelay.outbox.NotificationIntake;
import org.pathlingrelay.schedule.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the outbox every {@link #EVERY} to count as missed the topic event numbers that did not
 * arrive within the reorder window, so that a hole counts (and a catch-up follows) soon after its
 * window ends even when no further notification comes. The window itself is the outbox's clock.
 */
public final class EventHoleTimer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EventHoleTimer.class);
  static final Duration EVERY = Duration.ofSeconds(1);

  private final NotificationIntake outbox;
  private final Ticker ticker = new Ticker("event-holes", EVERY);

  public EventHoleTimer(NotificationIntake outbox) {
    this.outbox = outbox;
  }

  public void start() {
    ticker.start(this::check);
  }

  private void check() {
    List<MissedEvents> missed;
    try {
      missed = outbox.closeExpiredEventHoles().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      // The outbox refuses writes for now (full disk, closing): the holes wait for the next check.
      log.debug("Could not check topic event holes: {}", e.getMessage());
      return;
    }
    for (MissedEvents run : missed) {
      log.warn("{}: event number(s) {} did not arrive within the reorder window; counted as missed"
              + " (a catch-up follows if one is configured)",
          run.subscription(), run.first() == run.last() ? run.first() : run.first() + "-" + run.last());
    }
  }

  @Override
  public void close() throws InterruptedException {
    ticker.close();
  }
}
