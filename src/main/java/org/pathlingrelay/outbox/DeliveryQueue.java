package org.pathlingrelay.outbox;

import java.util.List;

/** What the forwarder takes from the outbox, and tells it of what became of each change. */
public interface DeliveryQueue {

  /**
   * What is pending, per resource type, with each type's count capped at {@code countUpTo}: the
   * forwarder only needs to know whether a full batch is waiting, and an exact count of a large
   * backlog would cost a scan of it on every look.
   */
  List<TypeBacklog> backlog(int countUpTo);

  /**
   * Up to {@code limit} pending upserts and up to {@code limit} pending deletes of one type,
   * oldest first: a long line of deletes does not hide the upserts behind it.
   */
  List<PendingChange> oldest(String type, int limit);

  /**
   * Records that Pathling confirmed these changes. A pending row goes away only if it still holds
   * the acknowledged version; a newer change that arrived meanwhile stays pending. Returns once
   * durable.
   */
  void acknowledge(List<PendingChange> delivered);

  /**
   * Records, before the request, that these upserts are being sent: from then on Pathling may hold
   * them whatever it answers (a lost answer leaves that unknown), so their deletes must be sent.
   * Kept in memory: after a crash, every creation queued before the outbox was opened again counts
   * as possibly sent.
   */
  void sending(List<PendingChange> upserts);

  /** Moves a change Pathling refused out of the queue, keeping Pathling's answer with it. */
  void deadLetter(PendingChange change, int status, String reason);
}
