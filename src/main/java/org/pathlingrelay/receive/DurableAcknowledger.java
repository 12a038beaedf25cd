package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.outbox.OutboxWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the request until its changes are on disk. If that cannot happen in time the sender gets a
 * 503 and retries; it is never told 2xx for something the outbox does not hold.
 */
final class DurableAcknowledger {

  private static final Logger log = LoggerFactory.getLogger(DurableAcknowledger.class);
  /** HAPI's rest-hook client gives up after 10 s; answer before it does. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(8);

  private final OutboxWriter outbox;
  private final Duration timeout;
  private final Map<Disposition, Counter> received = new EnumMap<>(Disposition.class);
  private final Counter pings;

  DurableAcknowledger(OutboxWriter outbox, Duration timeout, MeterRegistry meters) {
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
    List<Disposition> dispositions = await(outbox.append(changes));
    for (Disposition disposition : dispositions) {
      received.get(disposition).increment();
    }
    return dispositions;
  }

  /** True when the notification shows that events were missed (a catch-up will follow). */
  boolean subscriptionEvent(org.pathlingrelay.outbox.SubscriptionEvent event) {
    return await(outbox.recordSubscriptionEvent(event));
  }

  void ping() {
    await(outbox.recordPing());
    pings.increment();
  }

  private <T> T await(java.util.concurrent.CompletableFuture<T> commit) {
    try {
      return commit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // The commit may still land; the sender's retry then counts as a duplicate, not a loss.
      throw unavailable("The outbox did not commit in time");
    } catch (ExecutionException e) {
      log.warn("Refusing a notification: {}", e.getCause().getMessage());
      throw unavailable("The outbox cannot store changes right now");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("The relay is shutting down");
    }
  }

  private static BaseServerResponseException unavailable(String message) {
    BaseServerResponseException exception =
        new UnclassifiedServerFailureException(503, message + "; please retry");
    exception.addResponseHeader("Retry-After", "5");
    return exception;
  }
}
