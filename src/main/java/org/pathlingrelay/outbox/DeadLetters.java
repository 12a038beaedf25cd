package org.pathlingrelay.outbox;

import java.util.List;
import java.util.Optional;

/** Read and replay the changes Pathling refused. */
public interface DeadLetters {

  List<DeadLetter> list(int limit);

  /**
   * Puts dead letters back into the queue (all of them, or the one for {@code key}); newest
   * version still wins against whatever is pending. Returns how many were moved back.
   */
  int retry(Optional<ResourceKey> key);
}
