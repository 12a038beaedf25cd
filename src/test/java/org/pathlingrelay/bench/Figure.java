package org.pathlingrelay.bench;

import java.util.List;

/**
 * One line of the table: a figure of the relay and its baseline, measured in the same rounds.
 *
 * @param relay the relay's value in each round
 * @param baseline the baseline's value in each round (or the computed ideal, once)
 * @param baselineIs what the baseline is, in a few words
 * @param decimals how many decimals the values deserve
 */
public record Figure(
    String part,
    String name,
    Better better,
    List<Double> relay,
    List<Double> baseline,
    String baselineIs,
    int decimals) {

  /** Which way is good. */
  public enum Better {
    HIGHER,
    LOWER
  }

  public Figure {
    relay = List.copyOf(relay);
    baseline = List.copyOf(baseline);
  }

  public double relayMedian() {
    return Percentiles.median(relay);
  }

  public double baselineMedian() {
    return Percentiles.median(baseline);
  }

  /** Median relay over median baseline; NaN when the baseline is zero or missing. */
  public double ratio() {
    double base = baselineMedian();
    return base == 0 || Double.isNaN(base) ? Double.NaN : relayMedian() / base;
  }
}
