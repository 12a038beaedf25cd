package org.pathlingrelay.bench;

import java.util.Locale;

/**
 * What one write costs the modelled Pathling: a fixed Delta commit plus a time per resource. A real
 * Pathling measured about 5 s per request plus 2.5 ms per resource.
 */
public record PathlingCost(double commitMs, double perResourceMs) {

  public static final PathlingCost MEASURED = new PathlingCost(5_000, 2.5);

  public PathlingCost {
    if (commitMs < 0 || perResourceMs < 0) {
      throw new IllegalArgumentException("Pathling costs must not be negative");
    }
  }

  public long nanosFor(long resources) {
    return Math.round((commitMs + perResourceMs * resources) * 1_000_000);
  }

  public double secondsFor(long resources) {
    return (commitMs + perResourceMs * resources) / 1000.0;
  }

  /** How it reads in the table, with the scale relative to the measured Pathling. */
  public String describe() {
    String text = String.format(Locale.ROOT, "%s ms per request + %s ms per resource",
        trim(commitMs), trim(perResourceMs));
    if (equals(MEASURED)) {
      return text + " (as measured on a real Pathling)";
    }
    return text + " (scaled model; a real Pathling measured " + trim(MEASURED.commitMs) + " ms + "
        + trim(MEASURED.perResourceMs) + " ms)";
  }

  private static String trim(double value) {
    return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
  }
}
