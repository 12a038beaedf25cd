package org.pathlingrelay.backfill;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What a backfill did, per resource type, for the summary table, and what reached Pathling.
 *
 * @param transactionTime the new watermark: the snapshot the next {@code sync} starts from
 * @param forwarded changes of this run that left the outbox while this process waited (delivered
 *     or dead-lettered)
 * @param resumed this process continued a run an earlier one had started, so the table counts
 *     only what this process loaded
 * @param loadedByPathling the types Pathling loaded itself ({@code $import-pnp}), with no counts here
 * @param deadLettered changes Pathling refused while this run waited (they are dead letters now)
 */
public record BackfillReport(
    Instant transactionTime,
    List<TypeCounts> types,
    List<String> sourceErrors,
    boolean delivered,
    Duration elapsed,
    long forwarded,
    boolean resumed,
    Optional<List<String>> loadedByPathling,
    long deadLettered) {

  /**
   * @param exported lines in the export's files
   * @param queued changes the outbox took (new or newer than what it held)
   * @param stale changes the outbox already held in this or a newer version
   * @param deletes deletes from the export's {@code deleted} files
   * @param errors lines that could not be synced
   */
  public record TypeCounts(String type, long exported, long queued, long stale, long deletes, long errors) {}

  public long exported() {
    return types.stream().mapToLong(TypeCounts::exported).sum();
  }

  /** The same report, with what Pathling refused during the run. */
  public BackfillReport withDeadLettered(long count) {
    return new BackfillReport(
        transactionTime, types, sourceErrors, delivered, elapsed, forwarded, resumed, loadedByPathling, count);
  }

  public void print(PrintWriter out) {
    double seconds = elapsed.toMillis() / 1000.0;
    if (loadedByPathling.isPresent()) {
      List<String> types = loadedByPathling.get();
      out.printf("Pathling loaded %s itself ($import-pnp) in %.1f s; the next sync starts from %s (just before the kick-off)%n",
          types.isEmpty() ? "every type" : String.join(", ", types), seconds, transactionTime);
      out.flush();
      return;
    }
    out.printf("%-28s %10s %10s %10s %10s %10s%n", "TYPE", "EXPORTED", "QUEUED", "STALE", "DELETES", "ERRORS");
    long[] sums = new long[5];
    for (TypeCounts t : types) {
      out.printf("%-28s %10d %10d %10d %10d %10d%n", t.type(), t.exported(), t.queued(), t.stale(), t.deletes(), t.errors());
      sums[0] += t.exported();
      sums[1] += t.queued();
      sums[2] += t.stale();
      sums[3] += t.deletes();
      sums[4] += t.errors();
    }
    out.printf("%-28s %10d %10d %10d %10d %10d%n", "total", sums[0], sums[1], sums[2], sums[3], sums[4]);
    if (resumed) {
      out.println("(resumed the run an earlier backfill started: the table counts only what this run loaded)");
    }
    String outcome;
    if (!delivered) {
      outcome = "queued; forwarding continues";
    } else if (deadLettered > 0) {
      outcome = String.format("%d change(s) forwarded, of which Pathling refused %d (kept as dead letters)",
          forwarded, deadLettered);
    } else {
      outcome = String.format("%d change(s) forwarded; everything queued has been delivered to Pathling", forwarded);
    }
    long work = Math.max(exported(), forwarded);
    out.printf("export transaction time %s; %s; %.1f s (%s %s/s)%n",
        transactionTime, outcome, seconds,
        rate(elapsed.isZero() ? 0.0 : work * 1000.0 / elapsed.toMillis()),
        exported() >= forwarded ? "resources" : "changes");
    for (String error : sourceErrors) {
      out.println("source reported: " + error);
    }
    out.flush();
  }

  /** A rate with the digits it needs: a slow run (HAPI's export takes minutes) does not read as 0/s. */
  static String rate(double perSecond) {
    if (perSecond == 0 || perSecond >= 10) {
      return String.format(Locale.ROOT, "%.0f", perSecond);
    }
    return String.format(Locale.ROOT, perSecond >= 1 ? "%.1f" : "%.2g", perSecond);
  }
}
