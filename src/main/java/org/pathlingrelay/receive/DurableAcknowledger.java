package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.outbox.NotificationIntake;
import org.pathlingrelay.outbox.SubscriptionEvent;

/**
 * Holds the request until its changes are on disk. If that cannot happen in time the sender gets a
 * 503 and retries; it is never told 2xx for something the outbox does not hold.
 */
final class DurableAcknowledger {

  /** HAPI's rest-hook client gives up after 10 s; answer before it does. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(8);
  static final String TIMED_OUT = "The outbox did not commit in time";
  static final String UNAVAILABLE = "The outbox cannot store changes right now";
  static final String RETRY_AFTER_SECONDS = "5";

  private final NotificationIntake outbox;
  private final Duration timeout;
  private final Map<Disposition, Counter> received = new EnumMap<>(Disposition.class);
  private final Counter pings;

  DurableAcknowledger(NotificationIntake outbox, Duration timeout, MeterRegistry meters) {
    this.outbox = outbox;
    this.timeout = timeout;
    for (Disposition disposition : Disposition.values()) {
      received.put(
          disposition,
          Counter.builder("relay.notifications.received")
              .description("Changes received and durably committed, by what the outbox did")
              .tag("disposition", disposition.name().toLowerCase())
              .register(meters));
    }
    pings =
        Counter.builder("relay.notifications.pings")
            .description("Notifications without a resource (rest-hook without payload)")
            .register(meters);
  }

  List<Disposition> store(List<Change> changes) {
    return await(storeLater(changes));
  }

  /** Completes once the changes are on disk, and is counted then. */
  CompletableFuture<List<Disposition>> storeLater(List<Change> changes) {
    return outbox.append(changes).whenComplete((dispositions, failure) -> {
      if (failure == null) {
        dispositions.forEach(disposition -> received.get(disposition).increment());
      }
    });
  }

  /** True when the notification shows that events were missed (a catch-up will follow). */
  boolean subscriptionEvent(SubscriptionEvent event) {
    return await(outbox.recordSubscriptionEvent(event));
  }

  void ping() {
    await(outbox.recordPing());
    pings.increment();
  }

  /**
   * Why a commit failed, for the log line of the 503 (the {@link RejectionLogger} writes it: one
   * line per refused request, not one here and one there).
   */
  static Optional<String> failureOf(CompletableFuture<?> commit) {
    try {
      commit.getNow(null);
      return Optional.empty();
    } catch (CompletionException | CancellationException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      return Optional.ofNullable(cause.getMessage());
    }
  }

  private <T> T await(CompletableFuture<T> commit) {
    try {
      return commit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // The commit may still land; the sender's retry then counts as a duplicate, not a loss.
      throw unavailable(TIMED_OUT);
    } catch (ExecutionException e) {
      BaseServerResponseException refused = unavailable(UNAVAILABLE);
      refused.initCause(e.getCause());
      throw refused;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("The relay is shutting down");
    }
  }

  private static BaseServerResponseException unavailable(String message) {
    BaseServerResponseException exception =
        new UnclassifiedServerFailureException(503, message + "; please retry");
    exception.addResponseHeader("Retry-After", RETRY_AFTER_SECONDS);
    return exception;
  }
}
