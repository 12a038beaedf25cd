package org.pathlingrelay.bench;

import java.util.Collection;
import org.pathlingrelay.testing.PathlingCost;

/** What the modelled Pathling itself allows, computed from its cost: the baseline of the forward part. */
final class ModelIdeal {

  private ModelIdeal() {}

  /**
   * The shortest drain of a backlog: one request of everything per type, types in parallel on
   * {@code parallelTypes} slots whose requests share Pathling's cores:
   * {@code max(max_t(c + n_t*r), sum_t(c + n_t*r) / min(P, cores))}.
   */
  static double drainSeconds(Collection<Integer> perType, PathlingCost cost, int parallelTypes) {
    double longest = 0;
    double total = 0;
    for (int count : perType) {
      if (count == 0) {
        continue;
      }
      double seconds = cost.secondsFor(count);
      longest = Math.max(longest, seconds);
      total += seconds;
    }
    int parallel = cost.cores() == 0 ? parallelTypes : Math.min(parallelTypes, cost.cores());
    return Math.max(longest, total / parallel);
  }
}
