package org.pathlingrelay.outbox;

/** What the outbox did with an appended change. */
public enum Disposition {
  /** Stored as the resource's only pending change. */
  QUEUED,
  /** Stored, replacing an older pending change of the same resource. */
  REPLACED,
  /** Dropped: the outbox already holds or has already forwarded this version or a newer one. */
  STALE
}
