package org.pathlingrelay.outbox;

import java.util.List;
import java.util.Optional;

/** What the status page, the metrics and the readiness check read of the outbox. */
public interface OutboxStatus {

  OutboxStats stats();

  /**
   * Every resource type the outbox holds a row of, by name: a change of it is queued now, or one
   * was forwarded before. The types this relay relays.
   */
  List<String> types();

  /** What each topic-based subscription last reported, by subscription. */
  List<SubscriptionState> subscriptions();

  /**
   * Commits a tiny write to prove the file still takes durable writes; answers why it failed, or
   * empty when it was stored. Whether a real notification fits is for the caller to judge too (a
   * tiny write still fits on a nearly full disk).
   */
  Optional<String> commitFailure();
}
