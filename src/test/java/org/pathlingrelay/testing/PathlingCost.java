package org.pathlingrelay.testing;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.Locale;

/**
 * What a modelled Pathling charges, shared by the test fake ({@link FakePathling#setCost}) and the
 * bench's model: a write of upserts costs a Delta merge ({@code commitMs}) plus a time per
 * resource; each DELETE runs its own delete, one by one, whether sent alone or inside a batch, and
 * costs {@code deleteHeldMs} for a resource Pathling holds (a count, then a Delta delete) or
 * {@code deleteAbsentMs} for one it does not (a {@code 404}, which also fails a whole batch); a
 * {@code [type]?_summary=count} costs {@code countMs}; {@code $import} a merge per type plus a time
 * per resource. All
 * requests share Pathling's {@code cores} ({@link PathlingCpu}): concurrent writes of different
 * types slow each other down.
 *
 * <p>{@link #PATHLING_2_0_1} holds the midpoints of a real Pathling 2.0.1 measured on a 2-core
 * machine (issue 18):
 *
 * <table>
 *   <caption>Measured request times</caption>
 *   <tr><th>request</th><th>time</th></tr>
 *   <tr><td>{@code batch} Bundle of 1,000 PUTs</td><td>2.5–4.4 s</td></tr>
 *   <tr><td>one PUT</td><td>1.8–3.9 s</td></tr>
 *   <tr><td>one DELETE of a resource it holds (a count, then a Delta delete)</td><td>3.4–3.9 s</td></tr>
 *   <tr><td>one DELETE of an id it does not hold ({@code 404})</td><td>1.2–1.5 s</td></tr>
 *   <tr><td>{@code [type]?_summary=count}</td><td>0.4–0.6 s</td></tr>
 *   <tr><td>{@code $import} of 71,600 resources (NDJSON, merge)</td><td>132 s (541 resources/s)</td></tr>
 * </table>
 *
 * <p>So one PUT costs 2,850 ms and a thousand 3,450 ms: 2,850 ms per request plus 0.6 ms per
 * resource; the import's 132 s are 13 merges of 2,850 ms plus 1.326 ms per resource.
 *
 * @param cores Pathling's CPU that concurrent requests share; 0 for no sharing (each request
 *     costs its own time whatever else runs)
 */
public record PathlingCost(
    double commitMs,
    double perResourceMs,
    double deleteHeldMs,
    double deleteAbsentMs,
    double countMs,
    double importPerResourceMs,
    int cores) {

  /** The midpoints of a real Pathling 2.0.1 on 2 cores: the bench's default. */
  public static final PathlingCost PATHLING_2_0_1 = new PathlingCost(2_850, 0.6, 3_650, 1_350, 500, 1.326, 2);

  /** Requests cost nothing: the fake's default, so that the test suite stays fast. */
  public static final PathlingCost FREE = new PathlingCost(0, 0);

  public PathlingCost {
    if (commitMs < 0 || perResourceMs < 0 || deleteHeldMs < 0 || deleteAbsentMs < 0 || countMs < 0
        || importPerResourceMs < 0 || cores < 0) {
      throw new IllegalArgumentException("Pathling costs must not be negative");
    }
  }

  /**
   * A model of upserts only, as the tests use it: a delete costs what a write of one resource
   * costs, a count nothing, an import what a write of its lines costs; no shared CPU.
   */
  public PathlingCost(double commitMs, double perResourceMs) {
    this(commitMs, perResourceMs, commitMs + perResourceMs, commitMs + perResourceMs, 0, perResourceMs, 0);
  }

  public static PathlingCost of(Duration perRequest, Duration perResource) {
    return new PathlingCost(perRequest.toNanos() / 1e6, perResource.toNanos() / 1e6);
  }

  /** The same costs, {@code factor} times as long (a scaled-down model for quick runs). */
  public PathlingCost scaled(double factor) {
    return new PathlingCost(commitMs * factor, perResourceMs * factor, deleteHeldMs * factor, deleteAbsentMs * factor,
        countMs * factor, importPerResourceMs * factor, cores);
  }

  /** A write of {@code resources} upserts. */
  public long nanosFor(long resources) {
    return Math.round(millisFor(resources) * 1_000_000);
  }

  public Duration durationFor(long resources) {
    return Duration.ofNanos(nanosFor(resources));
  }

  public double secondsFor(long resources) {
    return millisFor(resources) / 1000.0;
  }

  /**
   * One write request: the merge of its upserts (if it has any, or nothing else), plus each delete
   * on its own.
   */
  public double writeMillis(long upserts, long heldDeletes, long absentDeletes) {
    double deletes = heldDeletes * deleteHeldMs + absentDeletes * deleteAbsentMs;
    boolean merge = upserts > 0 || heldDeletes + absentDeletes == 0;
    return (merge ? millisFor(upserts) : 0) + deletes;
  }

  public Duration writeDuration(long upserts, long heldDeletes, long absentDeletes) {
    return Duration.ofNanos(Math.round(writeMillis(upserts, heldDeletes, absentDeletes) * 1_000_000));
  }

  public Duration countDuration() {
    return Duration.ofNanos(Math.round(countMs * 1_000_000));
  }

  /** The import of one type's {@code resources}: a merge plus a time per resource. */
  public Duration importDuration(long resources) {
    return Duration.ofNanos(Math.round((commitMs + importPerResourceMs * resources) * 1_000_000));
  }

  private double millisFor(long resources) {
    return commitMs + perResourceMs * resources;
  }

  /** How it reads in the bench's table, with its scale relative to the measured Pathling. */
  public String describe() {
    String text = String.format(Locale.ROOT,
        "%s ms per request + %s ms per resource, DELETE %s ms (held) / %s ms (absent), %s",
        trim(commitMs), trim(perResourceMs), trim(deleteHeldMs), trim(deleteAbsentMs),
        cores == 0 ? "no shared CPU" : cores + " cores shared by concurrent requests");
    if (equals(PATHLING_2_0_1)) {
      return text + " (the midpoints measured on a real Pathling 2.0.1)";
    }
    return text + String.format(Locale.ROOT, " (%.2f x the midpoints measured on a real Pathling 2.0.1)",
        commitMs / PATHLING_2_0_1.commitMs);
  }

  private static String trim(double value) {
    return BigDecimal.valueOf(value).setScale(3, RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
  }
}
