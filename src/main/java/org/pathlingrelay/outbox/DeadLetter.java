package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * A change Pathling refused, kept exactly as received with Pathling's answer, so that it can be
 * inspected and replayed.
 */
public record DeadLetter(
    Change change,
    int status,
    String reason,
    int attempts,
    Instant firstFailedAt,
    Instant lastFailedAt) {}
