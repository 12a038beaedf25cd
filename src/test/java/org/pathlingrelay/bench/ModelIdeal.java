package org.pathlingrelay.bench;

import java.util.Collection;
import org.pathlingrelay.testing.PathlingCost;

/**
 * What the modelled Pathling itself allows, computed from its cost: the baselines of the forward
 * and lag parts.
 */
final class ModelIdeal {

  private ModelIdeal() {}

  /**
   * The shortest drain of a backlog: one request of everything per type, types in parallel on
   * {@code parallelTypes} slots: {@code max(max_t(c + n_t*r), sum_t(c + n_t*r) / P)}.
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
    return Math.max(longest, total / parallelTypes);
  }

  /**
   * The request time of a type in a steady stream when a request per type is always in flight
   * (each takes what arrived during the last): {@code T = c / (1 - (rate/types) * r)}; infinite
   * when the model cannot keep up.
   */
  static double steadyRequestSeconds(double rate, int types, PathlingCost cost) {
    double perResource = cost.perResourceMs() / 1000.0;
    double load = rate / types * perResource;
    return load >= 1 ? Double.POSITIVE_INFINITY : cost.commitMs() / 1000.0 / (1 - load);
  }
}
