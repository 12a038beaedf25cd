package org.pathlingrelay.backfill;

/**
 * A backfill gave up waiting: nothing it queued reached Pathling for the whole stall timeout. The
 * changes stay in the outbox and the journal, so running the same command again resumes.
 */
public final class ForwardingStalledException extends RuntimeException {

  private final long pending;

  ForwardingStalledException(String message, long pending) {
    super(message, null, false, false);
    this.pending = pending;
  }

  /** Changes of the run still in the outbox. */
  public long pending() {
    return pending;
  }
}
