package org.pathlingrelay.forward;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the operator that Pathling fails, and why: at once, then once a minute as a reminder, and
 * after a long outage as an error (a Sentry event). Fed the circuit breaker's events and asked on
 * each pass of the forwarder; time comes in as arguments. Not thread-safe: the forwarder calls it
 * under its lock.
 */
final class OutageLog {

  /** The forwarder's logger: these lines are the forwarder's to operators and their log filters. */
  private static final Logger log = LoggerFactory.getLogger(Forwarder.class);
  /** Pathling unreachable this long is an error worth a human's attention (and a Sentry event). */
  static final Duration LONG_OUTAGE = Duration.ofMinutes(5);
  /** While Pathling fails, the log says so this often: at once, then as a reminder. */
  static final Duration REMINDER = Duration.ofMinutes(1);

  private Instant unhealthySince;
  private boolean reported;
  private Instant remindedAt;
  private String lastFailure = "no answer";

  /** A call to Pathling failed with this message. */
  void failed(String message) {
    lastFailure = message;
  }

  /** The breaker moved to {@code state} at {@code now}. */
  void circuit(CircuitBreaker.State state, Instant now) {
    if (state == CircuitBreaker.State.CLOSED) {
      if (reported) {
        log.info("Pathling answers again; forwarding resumed");
      }
      unhealthySince = null;
      reported = false;
      remindedAt = null;
    } else if (unhealthySince == null) {
      unhealthySince = now;
    }
  }

  /** Logs what is due at {@code now}, if Pathling is failing; {@code state} is the breaker's. */
  void report(Instant now, CircuitBreaker.State state) {
    Instant since = unhealthySince;
    if (since == null) {
      return;
    }
    if (!reported && Duration.between(since, now).compareTo(LONG_OUTAGE) > 0) {
      reported = true;
      remindedAt = now;
      log.error("Pathling has been failing since {} (circuit {}): {}; changes are kept in the outbox until it"
          + " recovers", since, state, lastFailure);
    } else if (remindedAt == null || !now.isBefore(remindedAt.plus(REMINDER))) {
      remindedAt = now;
      log.warn("Pathling is not taking changes (failing since {}, circuit {}): {}; changes are kept in the"
          + " outbox and sent when it answers", since, state, lastFailure);
    }
  }
}
