package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * How much is waiting for one resource type, since when, and when the newest of it came.
 *
 * @param newestReceivedAt when the change queued last came (a change replacing one that waits
 *     keeps that one's place and time)
 */
public record TypeBacklog(String type, long pending, Instant oldestReceivedAt, Instant newestReceivedAt) {

  /** A backlog whose changes all came at once. */
  public TypeBacklog(String type, long pending, Instant receivedAt) {
    this(type, pending, receivedAt, receivedAt);
  }
}
