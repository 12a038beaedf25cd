package org.pathlingrelay.pathling;

import java.util.List;
import java.util.Set;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceKey;

/**
 * The writes Pathling takes. Each call is one HTTP request and either succeeds for everything it
 * carried or throws {@link RetriableWriteException} / {@link RejectedWriteException}.
 */
public interface PathlingWriter {

  /** One batch Bundle of PUTs, all of one type, no id twice. */
  void putBatch(String type, List<Change> upserts);

  void put(Change upsert);

  /** Deleting a resource Pathling does not have counts as success. */
  void delete(ResourceKey key);

  /**
   * Which of these ids of one type Pathling holds: one search, where a DELETE of each would cost
   * seconds. A Pathling that cannot answer it counts every id as held (they are then deleted).
   */
  default Set<String> held(String type, List<String> ids) {
    return Set.copyOf(ids);
  }
}
