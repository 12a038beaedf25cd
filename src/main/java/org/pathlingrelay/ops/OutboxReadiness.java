package org.pathlingrelay.ops;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Whether a notification would be acknowledged now: the data dir has room for one of the largest
 * size accepted ({@code --max-body}), and the outbox commits. A tiny probe commit alone is not
 * enough: on a nearly full disk it still fits while every real notification is refused.
 */
public final class OutboxReadiness {

  /** What {@code /readyz} answers: ready, or the reason why not, and the free space measured. */
  public record Verdict(boolean ready, Optional<String> reason, long freeBytes) {}

  /** Room for the pages around the body: indexes, the row's other columns, WAL frame headers. */
  static final long PAGE_MARGIN_BYTES = 1024 * 1024;

  private final Path dataDir;
  private final long maxBodyBytes;
  private final Supplier<Optional<String>> commitFailure;

  /**
   * @param commitFailure commits a probe and answers why it failed, or empty when it was stored
   */
  public OutboxReadiness(Path dataDir, long maxBodyBytes, Supplier<Optional<String>> commitFailure) {
    this.dataDir = dataDir;
    this.maxBodyBytes = maxBodyBytes;
    this.commitFailure = commitFailure;
  }

  /**
   * The space a notification of {@code --max-body} needs: its body goes to the WAL when it is
   * committed and into the database file at the next checkpoint.
   */
  long neededBytes() {
    return 2 * maxBodyBytes + PAGE_MARGIN_BYTES;
  }

  public Verdict check() {
    long free;
    try {
      free = Files.getFileStore(dataDir).getUsableSpace();
    } catch (IOException e) {
      return new Verdict(false, Optional.of("cannot read the free space of the data dir " + dataDir + ": " + e), 0);
    }
    if (free < neededBytes()) {
      // No probe: nothing more is written to a disk that is full, and nothing more logged.
      return new Verdict(false, Optional.of(String.format(
          "the data dir %s has %s free; a notification of up to --max-body %s needs %s: free space"
              + " on it, or lower --max-body", dataDir, text(free), text(maxBodyBytes), text(neededBytes()))),
          free);
    }
    Optional<String> failure = commitFailure.get();
    return new Verdict(failure.isEmpty(), failure.map(cause -> "the outbox cannot commit: " + cause), free);
  }

  /** Bytes in the units {@code --max-body} takes. */
  static String text(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = bytes;
    int unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return unit == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }
}
