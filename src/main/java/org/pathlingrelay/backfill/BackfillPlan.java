package org.pathlingrelay.backfill;

import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
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
   * @param dir a local folder, or null when staging on S3
   * @param url e.g. {@code file:///usr/share/staging}, or {@code s3://bucket/prefix}
   * @param keep keep the staged files after a successful import
   */
  public record Staging(Path dir, String url, boolean keep) {

    public Staging {
      if (dir == null && !url.startsWith("s3://")) {
        throw new IllegalArgumentException("--load import needs --staging-dir, or an s3:// --staging-url");
      }
    }

    public Staging(Path dir, String url) {
      this(dir, url, false);
    }

    public boolean onS3() {
      return url.startsWith("s3://");
    }
  }

  public BackfillPlan {
    if (downloadConcurrency < 1) {
      throw new IllegalArgumentException("--download-concurrency must be at least 1");
    }
    if (load == LoadMode.IMPORT && staging.isEmpty()) {
      throw new IllegalArgumentException(
          "--load import needs --staging-dir (and --staging-url if Pathling sees it elsewhere), or an s3:// --staging-url");
    }
    if (!Set.of("merge", "overwrite").contains(saveMode)) {
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
