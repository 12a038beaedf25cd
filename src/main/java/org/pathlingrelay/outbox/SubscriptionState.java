package org.pathlingrelay.outbox;

import java.time.Instant;

/** What the relay knows of one topic-based subscription, for {@code /status}. */
public record SubscriptionState(
    String subscription, Long lastEventNumber, String lastType, Instant lastSeenAt, long gaps) {}
