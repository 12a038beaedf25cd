package org.pathlingrelay.wiring;

import java.time.Duration;

/**
 * The source, for catch-up inside the server (sync on a schedule and after pings; no schedule when
 * {@code interval} is null) and for reading the resources that id-only notifications name.
 */
public record CatchUpSettings(SourceSettings source, Duration interval, Duration pingDebounce) {

  /** Pings come in bursts (one per changed resource); wait for the burst to pass. */
  public static final Duration DEFAULT_PING_DEBOUNCE = Duration.ofSeconds(30);
}
