package org.pathlingrelay.pathling;

import java.time.Duration;

/**
 * How hard to try a write before giving the batch back to the queue, and when to stop calling a
 * Pathling that keeps failing.
 *
 * @param maxAttempts attempts per request before the batch is put back for a later round
 * @param initialBackoff first wait between attempts (exponential, randomised)
 * @param maxBackoff longest wait between attempts
 * @param maxRetryAfter longest {@code Retry-After} we honour as given
 * @param openStateWait how long the circuit stays open before it lets a probe through
 * @param slidingWindow number of recent calls the circuit breaker judges
 */
public record ResilienceSettings(
    int maxAttempts,
    Duration initialBackoff,
    Duration maxBackoff,
    Duration maxRetryAfter,
    Duration openStateWait,
    int slidingWindow) {

  public static final ResilienceSettings DEFAULTS =
      new ResilienceSettings(
          5,
          Duration.ofSeconds(1),
          Duration.ofMinutes(1),
          Duration.ofMinutes(10),
          Duration.ofSeconds(30),
          10);
}
