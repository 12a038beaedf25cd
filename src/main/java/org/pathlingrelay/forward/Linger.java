package org.pathlingrelay.forward;

import java.time.Duration;

/**
 * How long a type's changes wait for company before they are sent: until none has come for
 * {@code quiet}, or until the oldest has waited {@code max}, whichever is sooner. Pathling pays
 * 2–4 s per request whatever its size, so a burst is worth a few seconds' wait: without it, a
 * burst's first changes go out as a tiny batch after {@code quiet}, and the rest wait behind that
 * request. A lone change still goes after {@code quiet}.
 *
 * @param quiet {@code --linger}: how long no new change of the type must have come
 * @param max {@code --linger-max}: the longest any change waits for company
 */
public record Linger(Duration quiet, Duration max) {

  public Linger {
    if (quiet.isNegative()) {
      throw new IllegalArgumentException("--linger must not be negative");
    }
    if (max.compareTo(quiet) < 0) {
      throw new IllegalArgumentException("--linger-max (" + max + ") must be at least --linger (" + quiet + ")");
    }
  }

  /** A linger that waits {@code quiet} after the oldest change, however many follow it. */
  public static Linger of(Duration quiet) {
    return new Linger(quiet, quiet);
  }

  /** Whether changes whose oldest came {@code sinceOldest} ago and newest {@code sinceNewest} ago have waited enough. */
  boolean over(Duration sinceOldest, Duration sinceNewest) {
    return sinceOldest.compareTo(max) >= 0 || sinceNewest.compareTo(quiet) >= 0;
  }

  /** How long until {@link #over} turns true if no more changes come. */
  Duration left(Duration sinceOldest, Duration sinceNewest) {
    Duration byMax = max.minus(sinceOldest);
    Duration byQuiet = quiet.minus(sinceNewest);
    return byMax.compareTo(byQuiet) <= 0 ? byMax : byQuiet;
  }
}
