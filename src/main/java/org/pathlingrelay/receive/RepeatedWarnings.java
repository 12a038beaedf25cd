package org.pathlingrelay.receive;

import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;

/**
 * Logs the first of a run of identical warnings in full, then at most one line per period with how
 * many more there were. A full disk refuses every notification alike; a line for each would flood
 * the log, perhaps on that same disk.
 */
public final class RepeatedWarnings {

  /** A run of one kind of warning: when it was last logged, and how many came since. */
  private static final class Run {
    long loggedAt;
    long seenAt;
    long since;

    Run(long now) {
      loggedAt = now;
      seenAt = now;
    }
  }

  /** Kinds kept at most; quiet ones are dropped beyond this, so varied texts cannot grow it. */
  private static final int MAX_KINDS = 64;

  private final Logger log;
  private final String what;
  private final long periodMillis;
  private final InstantSource clock;
  private final Map<String, Run> runs = new HashMap<>();

  /** @param what what is counted, as in "12 more {what} in the last 30 s" */
  public RepeatedWarnings(Logger log, String what, Duration period, InstantSource clock) {
    this.log = log;
    this.what = what;
    this.periodMillis = period.toMillis();
    this.clock = clock;
  }

  /**
   * @param kind the same text for the same failure (without what differs per request)
   * @param line the full line, logged for the first of a run
   */
  public synchronized void warn(String kind, String line) {
    long now = clock.millis();
    Run run = runs.get(kind);
    if (run == null || now - run.seenAt >= periodMillis) {
      // Quiet for a whole period: what was held back of the last run is told, and a new one starts.
      if (run != null) {
        summarize(kind, run, now);
      }
      forgetQuietRuns(now);
      runs.put(kind, new Run(now));
      log.warn(line);
      return;
    }
    run.since++;
    run.seenAt = now;
    if (now - run.loggedAt >= periodMillis) {
      summarize(kind, run, now);
      run.loggedAt = now;
      run.since = 0;
    }
  }

  private void summarize(String kind, Run run, long now) {
    if (run.since > 0) {
      log.warn("{} more {} in the last {} s: {}", run.since, what,
          Math.max(1, Math.round((Math.min(now, run.seenAt) - run.loggedAt) / 1000.0)), kind);
    }
  }

  private void forgetQuietRuns(long now) {
    if (runs.size() >= MAX_KINDS) {
      runs.entrySet().removeIf(entry -> now - entry.getValue().seenAt >= periodMillis);
    }
  }
}
