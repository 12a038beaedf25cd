package org.pathlingrelay.forward;

import java.time.Duration;

/**
 * Whether the changes waiting for one resource type should be sent now. Pathling pays per request,
 * so waiting a little for more changes is worth it; waiting long is not.
 */
@FunctionalInterface
public interface FlushPolicy {

  boolean flush(long pending, Duration oldestAge);

  static FlushPolicy bySize(long batchMax) {
    return (pending, age) -> pending >= batchMax;
  }

  static FlushPolicy byLinger(Duration linger) {
    return (pending, age) -> pending > 0 && age.compareTo(linger) >= 0;
  }

  default FlushPolicy or(FlushPolicy other) {
    return (pending, age) -> flush(pending, age) || other.flush(pending, age);
  }
}
