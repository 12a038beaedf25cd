package org.pathlingrelay.outbox;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The receiving side of the outbox. */
public interface OutboxWriter {

  /**
   * Stores changes durably. The future completes only after the transaction holding them has been
   * committed and synced to disk; it fails with {@link OutboxUnavailableException} when that is not
   * possible, and then nothing of these changes was stored.
   */
  CompletableFuture<List<Disposition>> append(List<Change> changes);

  /** Counts and timestamps a notification that carried no resource (a rest-hook ping). */
  CompletableFuture<Void> recordPing();

  /**
   * Records a topic-based notification's event numbers; completes with true when events were
   * missed (a gap or a counter reset), which also counts as a ping so that a catch-up follows.
   */
  CompletableFuture<Boolean> recordSubscriptionEvent(SubscriptionEvent event);
}
