package org.pathlingrelay.outbox;

import java.util.List;

/** The forwarding side of the outbox. */
public interface OutboxReader {

  /**
   * What is pending, per resource type, with each type's count capped at {@code countUpTo}: the
   * forwarder only needs to know whether a full batch is waiting, and an exact count of a large
   * backlog would cost a scan of it on every look.
   */
  List<TypeBacklog> backlog(int countUpTo);

  /** Up to {@code limit} pending changes of one type, oldest first. */
  List<PendingChange> oldest(String type, int limit);

  /**
   * Records that Pathling confirmed these changes. A pending row goes away only if it still holds
   * the acknowledged version; a newer change that arrived meanwhile stays pending. Returns once
   * durable.
   */
  void acknowledge(List<PendingChange> delivered);

  /** The sequence number of the newest change appended so far (0 for an empty outbox). */
  long lastSeq();

  /**
   * How many pending rows were first queued at or before {@code seq}: zero once everything
   * appended up to then (or its newer versions) has been forwarded or dead-lettered.
   */
  long pendingUpTo(long seq);

  /** Moves a change Pathling refused out of the queue, keeping Pathling's answer with it. */
  void deadLetter(PendingChange change, int status, String reason);
}
