package org.pathlingrelay.http;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/**
 * How a client waits between attempts and polls, and the time its deadlines are measured against:
 * a dependency, so that tests need not wait.
 */
@FunctionalInterface
public interface Pause {

  void pause(Duration duration) throws InterruptedException;

  /** Now, for the deadlines of the waits; the system clock unless a test brings its own. */
  default Instant now() {
    return Instant.now();
  }

  Pause SLEEP = duration -> TimeUnit.NANOSECONDS.sleep(duration.toNanos());
}
