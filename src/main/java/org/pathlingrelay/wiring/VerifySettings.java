package org.pathlingrelay.wiring;

import java.time.Duration;
import java.util.List;

/**
 * {@code serve}'s checks of Pathling against the source (the source is catch-up's): counts every
 * {@code countsInterval}, ids and versions every {@code fullInterval}; either may be null for
 * never, not both.
 *
 * @param types the types to check; empty for every type the outbox holds
 */
public record VerifySettings(Duration countsInterval, Duration fullInterval, List<String> types) {

  /** {@code _count} of each listing request of a full check, as {@code verify}'s default. */
  public static final int PAGE_SIZE = 1000;

  public VerifySettings {
    if (countsInterval == null && fullInterval == null) {
      throw new IllegalArgumentException("a scheduled verify needs --verify-interval or --verify-full-interval");
    }
    types = List.copyOf(types);
  }
}
