package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * A change waiting in the outbox. {@code seq} identifies this exact version of the pending row:
 * acknowledging it removes the row only if no newer change replaced it meanwhile.
 */
public record PendingChange(long seq, Change change, Instant receivedAt) {

  public ResourceKey key() {
    return change.key();
  }

  public Operation operation() {
    return change.operation();
  }
}
