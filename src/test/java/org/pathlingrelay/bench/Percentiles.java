package org.pathlingrelay.bench;

import java.util.Arrays;
import java.util.Collection;

/** Percentiles from sorted arrays (nearest rank) and medians of rounds. */
final class Percentiles {

  private Percentiles() {}

  /** The nearest-rank percentile of an ascending array; NaN when empty. */
  static double of(long[] sorted, double percentile) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(percentile / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /** The median of some values (the mean of the middle two for an even count); NaN when empty. */
  static double median(Collection<Double> values) {
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int middle = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  static long[] sortedCopy(long[] values, int length) {
    long[] copy = Arrays.copyOf(values, length);
    Arrays.sort(copy);
    return copy;
  }
}
