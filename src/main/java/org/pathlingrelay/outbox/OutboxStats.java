package org.pathlingrelay.outbox;

import java.time.Instant;

/** A snapshot of the outbox for status pages and metrics. */
public record OutboxStats(
    long pending,
    Instant oldestPendingAt,
    long deadLetters,
    long staleDrops,
    long pings,
    Instant lastPingAt) {}
