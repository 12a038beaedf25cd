package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * A change waiting in the outbox. {@code seq} identifies this exact version of the pending row:
 * acknowledging it removes the row only if no newer change replaced it meanwhile.
 *
 * @param pathlingCannotHold for a delete: Pathling cannot hold the resource (the relay saw it
 *     created and never forwarded it, or forwarded its delete, and no bulk load ran since), so
 *     acknowledging it needs no request
 */
public record PendingChange(long seq, Change change, Instant receivedAt, boolean pathlingCannotHold) {

  public PendingChange(long seq, Change change, Instant receivedAt) {
    this(seq, change, receivedAt, false);
  }

  public ResourceKey key() {
    return change.key();
  }

  public Operation operation() {
    return change.operation();
  }
}
