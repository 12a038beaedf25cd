package org.pathlingrelay.outbox;

/**
 * How far forwarding has got, as a backfill watches it: it notes the position its changes were
 * queued up to, then waits until nothing queued by then is pending.
 */
public interface DeliveryProgress {

  /** The sequence number of the newest change appended so far (0 for an empty outbox). */
  long lastSeq();

  /**
   * How many pending rows were first queued at or before {@code seq}: zero once everything
   * appended up to then (or its newer versions) has been forwarded or dead-lettered.
   */
  long pendingUpTo(long seq);
}
