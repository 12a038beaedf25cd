package org.pathlingrelay.outbox;

import java.util.concurrent.CompletableFuture;

/** What receive stores of a notification: its changes, or the ping or topic event it carried. */
public interface NotificationIntake extends ChangeAppender {

  /** Counts and timestamps a notification that carried no resource (a rest-hook ping). */
  CompletableFuture<Void> recordPing();

  /**
   * Records a topic-based notification's event numbers; completes with true when events were
   * missed (a gap or a counter reset), which also counts as a ping so that a catch-up follows.
   */
  CompletableFuture<Boolean> recordSubscriptionEvent(SubscriptionEvent event);
}
