package org.pathlingrelay.testing;

import java.time.Duration;
import java.util.Locale;

/**
 * What one write costs a modelled Pathling: a fixed Delta commit plus a time per resource. Both
 * models charge it: the test fake ({@link FakePathling#setWriteDelay}) and the bench's.
 *
 * <p>{@link #MEASURED} is the figure the bench was first calibrated with (about 5 s per request
 * plus 2.5 ms per resource). A real Pathling 2.0.1 on a 2-core machine measured later (issue 18,
 * where the model is to be recalibrated):
 *
 * <table>
 *   <caption>Measured request times</caption>
 *   <tr><th>request</th><th>time</th></tr>
 *   <tr><td>{@code batch} Bundle of 1,000 PUTs</td><td>2.5–4.4 s</td></tr>
 *   <tr><td>one PUT</td><td>1.8–3.9 s</td></tr>
 *   <tr><td>one DELETE of a resource it holds (a count, then a Delta delete)</td><td>3.4–3.9 s</td></tr>
 *   <tr><td>one DELETE of an id it does not hold ({@code 404})</td><td>1.2–1.5 s</td></tr>
 * </table>
 */
public record PathlingCost(double commitMs, double perResourceMs) {

  public static final PathlingCost MEASURED = new PathlingCost(5_000, 2.5);

  /** Writes cost nothing: the fake's default. */
  public static final PathlingCost FREE = new PathlingCost(0, 0);

  public PathlingCost {
    if (commitMs < 0 || perResourceMs < 0) {
      throw new IllegalArgumentException("Pathling costs must not be negative");
    }
  }

  public static PathlingCost of(Duration perRequest, Duration perResource) {
    return new PathlingCost(perRequest.toNanos() / 1e6, perResource.toNanos() / 1e6);
  }

  public long nanosFor(long resources) {
    return Math.round((commitMs + perResourceMs * resources) * 1_000_000);
  }

  public Duration durationFor(long resources) {
    return Duration.ofNanos(nanosFor(resources));
  }

  public double secondsFor(long resources) {
    return (commitMs + perResourceMs * resources) / 1000.0;
  }

  /** How it reads in the bench's table, with the scale relative to the measured Pathling. */
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
