package org.pathlingrelay.testing;

import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.time.Duration;
import java.util.Optional;

/**
 * The next few requests a fake answers with an error instead of handling, as a real server in
 * trouble would: how many, which status and, optionally, a {@code Retry-After}. Thread-safe; a new
 * plan replaces the old one.
 */
final class InjectedFailures {

  /** One injected failure: the status to answer with, and the Retry-After to send if any. */
  record Failure(int status, Duration retryAfter) {

    /** The answer HAPI sends for it. */
    BaseServerResponseException exception() {
      BaseServerResponseException e = BaseServerResponseException.newInstance(status,
          "Injected failure (HTTP " + status + "); nothing was applied");
      retryAfterHeader().ifPresent(seconds -> e.addResponseHeader("Retry-After", seconds));
      return e;
    }

    /** The Retry-After header's value: whole seconds, rounded up. */
    Optional<String> retryAfterHeader() {
      return Optional.ofNullable(retryAfter)
          .map(wait -> Long.toString(Math.max(0, (wait.toMillis() + 999) / 1000)));
    }
  }

  private int remaining;
  private Failure next;

  synchronized void failNext(int count, int status, Duration retryAfter) {
    if (count < 0 || status < 400 || status > 599) {
      throw new IllegalArgumentException("count >= 0 and an error status required");
    }
    remaining = count;
    next = new Failure(status, retryAfter);
  }

  synchronized void clear() {
    remaining = 0;
    next = null;
  }

  /** The failure for the request at hand, if one is still planned; counts it off. */
  synchronized Optional<Failure> take() {
    if (remaining <= 0) {
      return Optional.empty();
    }
    remaining--;
    return Optional.of(next);
  }
}
