package org.pathlingrelay.pathling;

import java.time.Duration;
import java.util.Optional;

/**
 * Pathling could not take a write right now (connection refused, timeout, 5xx, 429, 401/403): the
 * same write may succeed later, so it is retried and never dead-lettered.
 */
public class RetriableWriteException extends RuntimeException {

  private final int status;
  private final Duration retryAfter;

  public RetriableWriteException(String message, int status, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** The HTTP status, or 0 when no answer came. */
  public int status() {
    return status;
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
