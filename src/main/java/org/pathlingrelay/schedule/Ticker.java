package org.pathlingrelay.schedule;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The schedule of the server's periodic work (catch-up, scheduled verify): one daemon thread that
 * calls a check every {@code every}, the first at once. The check decides what is due by its own
 * injected clock, so that the schedule follows that clock and one run at a time is a given.
 */
public final class Ticker implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Ticker.class);

  private final String name;
  private final Duration every;
  private final ScheduledExecutorService scheduler;

  public Ticker(String name, Duration every) {
    this.name = name;
    this.every = every;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, name);
      thread.setDaemon(true);
      return thread;
    });
  }

  public void start(Runnable check) {
    scheduler.scheduleWithFixedDelay(() -> {
      try {
        check.run();
      } catch (RuntimeException e) {
        // A task that throws is never run again by the executor: say so and keep the schedule.
        log.error("{}: a check failed; trying again at the next tick", name, e);
      }
    }, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    scheduler.shutdownNow();
    scheduler.awaitTermination(10, TimeUnit.SECONDS);
  }
}
