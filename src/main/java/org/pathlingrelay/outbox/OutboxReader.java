package org.pathlingrelay.outbox;

import java.util.List;

/** The forwarding side of the outbox. */
public interface OutboxReader {

  /** What is pending, per resource type. */
  List<TypeBacklog> backlog();

  /** Up to {@code limit} pending changes of one type, oldest first. */
  List<PendingChange> oldest(String type, int limit);

  /**
   * Records that Pathling confirmed these changes. A pending row goes away only if it still holds
   * the acknowledged version; a newer change that arrived meanwhile stays pending. Returns once
   * durable.
   */
  void acknowledge(List<PendingChange> delivered);

  /** Moves a change Pathling refused out of the queue, keeping Pathling's answer with it. */
  void deadLetter(PendingChange change, int status, String reason);
}
