package org.pathlingrelay.outbox;

import java.time.Instant;

/**
 * A change waiting in the outbox. {@code seq} identifies this exact version of the pending row:
 * acknowledging it removes the row only if no newer change replaced it meanwhile.
 *
 * @param pathlingCannotHold for a delete: Pathling cannot hold the resource (the relay saw it
 *     created and never forwarded it, or forwarded its delete, and no bulk load ran since), so
 *     acknowledging it needs no request
 * @param askPathling for a delete: the relay never sent this resource to Pathling (or last sent
 *     its delete), so only a bulk load or another writer could have put it there; asking Pathling
 *     which of such ids it holds costs one search instead of a DELETE each (HAPI does not deliver
 *     the creation of a resource deleted before its delivery, so a burst's deletes are mostly of
 *     ids the relay never saw)
 */
public record PendingChange(long seq, Change change, Instant receivedAt, boolean pathlingCannotHold,
    boolean askPathling) {

  public PendingChange(long seq, Change change, Instant receivedAt) {
    this(seq, change, receivedAt, false, false);
  }

  public PendingChange(long seq, Change change, Instant receivedAt, boolean pathlingCannotHold) {
    this(seq, change, receivedAt, pathlingCannotHold, false);
  }

  public ResourceKey key() {
    return change.key();
  }

  public Operation operation() {
    return change.operation();
  }
}
