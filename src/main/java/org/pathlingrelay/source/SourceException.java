package org.pathlingrelay.source;

import java.time.Duration;
import java.util.Optional;

/** The source refused or failed a request. Transient ones are worth trying again. */
public class SourceException extends RuntimeException {

  private final int status;
  private final boolean transientFailure;
  private final Duration retryAfter;

  public SourceException(
      String message, int status, boolean transientFailure, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.transientFailure = transientFailure;
    this.retryAfter = retryAfter;
  }

  /** The HTTP status, or 0 when there was no answer. */
  public int status() {
    return status;
  }

  public boolean isTransient() {
    return transientFailure;
  }

  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
