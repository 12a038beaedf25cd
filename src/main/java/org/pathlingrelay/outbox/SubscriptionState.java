package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * What the relay knows of one topic-based subscription, for {@code /status}: the highest event
 * number seen, the gaps counted, and how many numbers below the highest are still awaited.
 */
public record SubscriptionState(
    String subscription, Long lastEventNumber, String lastType, Instant lastSeenAt, long gaps,
    long awaitedEvents) {}
