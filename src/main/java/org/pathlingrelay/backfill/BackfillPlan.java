package org.pathlingrelay.backfill;

import java.nio.file.Path;
import java.util.Optional;
import org.pathlingrelay.source.ExportRequest;

/**
 * One backfill: what to export and how to load it.
 *
 * @param sync true for an incremental run from the stored watermark
 */
public record BackfillPlan(
    ExportRequest request,
    LoadMode load,
    int downloadConcurrency,
    boolean sync,
    Optional<Staging> staging,
    String saveMode) {

  /**
   * Where {@code --load import} writes files, and how Pathling sees that place.
   *
   * @param url e.g. {@code file:///usr/share/staging}, without a trailing slash
   */
  public record Staging(Path dir, String url) {}

  public BackfillPlan {
    if (downloadConcurrency < 1) {
      throw new IllegalArgumentException("--download-concurrency must be at least 1");
    }
    if (load == LoadMode.IMPORT && staging.isEmpty()) {
      throw new IllegalArgumentException("--load import needs --staging-dir (and --staging-url if Pathling sees it elsewhere)");
    }
    if (!java.util.Set.of("merge", "overwrite").contains(saveMode)) {
      throw new IllegalArgumentException("--save-mode must be merge or overwrite");
    }
  }

  /** A load through the outbox, merging. */
  public BackfillPlan(ExportRequest request, LoadMode load, int downloadConcurrency, boolean sync) {
    this(request, load, downloadConcurrency, sync, Optional.empty(), "merge");
  }

  /** Identifies the export, so a restarted run resumes only the job it started. */
  String fingerprint() {
    return request.level() + "|" + request.groupId().orElse("") + "|" + String.join(",", request.types())
        + "|" + request.since().map(Object::toString).orElse("") + "|" + String.join("&", request.typeFilters())
        + "|" + load;
  }
}
