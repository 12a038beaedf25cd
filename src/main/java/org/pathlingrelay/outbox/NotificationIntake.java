package org.pathlingrelay.outbox;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What receive stores of a notification: its changes, or the ping or topic event it carried. */
public interface NotificationIntake extends ChangeAppender {

  /** Counts and timestamps a notification that carried no resource (a rest-hook ping). */
  CompletableFuture<Void> recordPing();

  /**
   * Records a topic-based notification's event numbers; completes with true when they show at once
   * that events were missed (a jump too long to wait for, a heartbeat counting more, a counter
   * reset), which also counts as a ping so that a catch-up follows. Numbers skipped are awaited
   * for the reorder window first: see {@link #closeExpiredEventHoles}.
   */
  CompletableFuture<Boolean> recordSubscriptionEvent(SubscriptionEvent event);

  /**
   * Counts the event numbers still missing a reorder window after they were skipped as missed: a
   * gap and a ping per run of consecutive numbers. Completes with those runs.
   */
  CompletableFuture<List<MissedEvents>> closeExpiredEventHoles();
}
