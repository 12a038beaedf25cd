package org.pathlingrelay.backfill;

import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * What a waiting backfill knows about why its changes do not reach Pathling: the latest failure
 * of the forwarder's calls (fed by the forwarder's circuit breaker when this process forwards).
 */
public final class ForwardingTrouble implements Consumer<Throwable> {

  /** One failed call to Pathling: its message (which names the cause) and when it happened. */
  public record Failure(String message, Instant at) {}

  private final String forwarder;
  private final InstantSource clock;
  private final AtomicReference<Failure> latest = new AtomicReference<>();

  /** @param forwarder who forwards, for messages: {@code Pathling at http://…} */
  public ForwardingTrouble(String forwarder, InstantSource clock) {
    this.forwarder = forwarder;
    this.clock = clock;
  }

  /** This process forwards to Pathling at {@code pathlingUrl}. */
  public static ForwardingTrouble pathlingAt(String pathlingUrl, InstantSource clock) {
    return new ForwardingTrouble("Pathling at " + pathlingUrl, clock);
  }

  /** Another process forwards; its failures are in its own log. */
  public static ForwardingTrouble otherProcess(String dataDir, InstantSource clock) {
    return new ForwardingTrouble("the relay forwarding from " + dataDir + " (see its log)", clock);
  }

  @Override
  public void accept(Throwable failure) {
    String message = failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
    latest.set(new Failure(message, clock.instant()));
  }

  public String forwarder() {
    return forwarder;
  }

  /** The latest failure at or after {@code since}. */
  Optional<Failure> since(Instant since) {
    return Optional.ofNullable(latest.get()).filter(failure -> !failure.at().isBefore(since));
  }
}
