package org.pathlingrelay.outbox;

import java.util.List;
import java.util.OptionalLong;

/**
 * One topic-based notification's bookkeeping: which subscription, what kind, which event numbers
 * it carried and how many events the source says it has sent since the subscription started.
 */
public record SubscriptionEvent(
    String subscription, String type, List<Long> eventNumbers, OptionalLong eventsSinceStart) {

  public SubscriptionEvent {
    eventNumbers = List.copyOf(eventNumbers);
  }
}
