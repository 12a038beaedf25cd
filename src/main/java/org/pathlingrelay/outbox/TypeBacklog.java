package org.pathlingrelay.outbox;

import java.time.Instant;

/** How much is waiting for one resource type, and since when. */
public record TypeBacklog(String type, long pending, Instant oldestReceivedAt) {}
