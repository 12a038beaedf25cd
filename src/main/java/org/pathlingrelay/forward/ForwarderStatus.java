package org.pathlingrelay.forward;

import java.time.Instant;
import java.util.Set;

/** The forwarder as {@code /status} shows it. */
public record ForwarderStatus(
    String mode, String circuitState, Set<String> typesInFlight, Set<String> typesBackingOff, Counts counts) {

  /** Running totals since the process started. */
  public record Counts(
      long requests,
      long delivered,
      long deadLettered,
      long lastRequestSize,
      long largestRequestSize,
      double meanRequestSize,
      Instant lastSuccessfulForward) {}
}
