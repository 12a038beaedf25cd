package org.pathlingrelay.backfill;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** What a backfill did, per resource type, for the summary table. */
public record BackfillReport(
    Instant transactionTime,
    List<TypeCounts> types,
    List<String> sourceErrors,
    boolean delivered,
    Duration elapsed) {

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

  public void print(PrintWriter out) {
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
    out.printf("export transaction time %s; %s; %.1f s (%.0f resources/s)%n",
        transactionTime,
        delivered ? "everything queued has been delivered to Pathling" : "queued; forwarding continues",
        elapsed.toMillis() / 1000.0,
        elapsed.isZero() ? 0.0 : exported() * 1000.0 / elapsed.toMillis());
    for (String error : sourceErrors) {
      out.println("source reported: " + error);
    }
    out.flush();
  }
}
