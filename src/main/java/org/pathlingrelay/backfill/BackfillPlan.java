package org.pathlingrelay.backfill;

import org.pathlingrelay.source.ExportRequest;

/**
 * One backfill: what to export and how to load it.
 *
 * @param sync true for an incremental run from the stored watermark
 */
public record BackfillPlan(ExportRequest request, LoadMode load, int downloadConcurrency, boolean sync) {

  public BackfillPlan {
    if (downloadConcurrency < 1) {
      throw new IllegalArgumentException("--download-concurrency must be at least 1");
    }
  }

  /** Identifies the export, so a restarted run resumes only the job it started. */
  String fingerprint() {
    return request.level() + "|" + request.groupId().orElse("") + "|" + String.join(",", request.types())
        + "|" + request.since().map(Object::toString).orElse("") + "|" + String.join("&", request.typeFilters())
        + "|" + load;
  }
}
