package org.pathlingrelay.backfill;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Set;
import org.pathlingrelay.outbox.ChangeAppender;
import org.pathlingrelay.pathling.PathlingImportClient;
import org.pathlingrelay.source.ExportManifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --load import}: the export's output files are staged where Pathling can read them, and
 * Pathling's {@code $import} loads them; the deleted files still go through the outbox. The
 * import job is journalled, so a stopped run waits for the same job again.
 */
final class ImportLoad implements Load {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  private final SourceExport export;
  private final ExportDownloads downloads;
  private final ExportStaging staging;
  private final HistoryDeletes historyDeletes;
  private final ChangeAppender bulkLoads;
  private final PathlingImportClient pathling;
  private final ForwardingHold hold;
  private final DeliveryWait delivery;
  private final Journal journal;
  private final InstantSource clock;

  ImportLoad(
      SourceExport export, ExportDownloads downloads, ExportStaging staging, HistoryDeletes historyDeletes,
      ChangeAppender bulkLoads, PathlingImportClient pathling, ForwardingHold hold, DeliveryWait delivery, Journal journal, InstantSource clock) {
    this.export = export;
    this.downloads = downloads;
    this.staging = staging;
    this.historyDeletes = historyDeletes;
    this.bulkLoads = bulkLoads;
    this.pathling = pathling;
    this.hold = hold;
    this.delivery = delivery;
    this.journal = journal;
    this.clock = clock;
  }

  @Override
  public BackfillReport run(BackfillPlan plan) throws InterruptedException {
    Instant started = clock.instant();
    BackfillPlan.Staging where = plan.staging().orElseThrow();
    // An import writes to Pathling directly: pause forwarding of its types from before the export
    // until the import is done, so nothing forwarded meanwhile is older than what it loads.
    AutoCloseable held = hold.hold(Set.copyOf(plan.request().types()));
    try {
      return export.run(plan, job -> {
        ExportManifest manifest = job.manifest();
        LoadCounts counts = new LoadCounts();
        long queuedUpTo = job.queueOnce(() -> {
          StagingArea area = staging.open(where);
          downloads.load(manifest, plan.downloadConcurrency(),
              (m, index, c) -> staging.stage(area, job.statusUrl(), m, index, c), counts);
          // Queued now, forwarded once the hold ends: after the import, which cannot delete.
          historyDeletes.queue(plan.request(), manifest, counts);
          bulkLoads.recordBulkLoadStarting(plan.request().types()).join();
          importStaged(area, manifest, plan.saveMode(), job.statusUrl());
          // Pathling may now hold any resource of these types: their deletes must all be sent.
          bulkLoads.recordBulkLoad(plan.request().types()).join();
        });
        ForwardingHold.release(held);
        long forwarded = delivery.await(queuedUpTo);
        if (!where.keep()) {
          staging.delete(where, job.statusUrl());
        }
        job.complete(manifest);
        return counts.report(manifest.transactionTime(), Duration.between(started, clock.instant()), forwarded,
            job.resumed());
      }, purged -> staging.delete(where, purged));
    } finally {
      ForwardingHold.release(held);
    }
  }

  /** Calls {@code $import} with every staged file and waits for the job, or resumes the wait. */
  private void importStaged(StagingArea area, ExportManifest manifest, String saveMode, URI statusUrl)
      throws InterruptedException {
    Journal.Run run = journal.run().orElseThrow();
    URI job = run.importJobUrl() == null ? null : URI.create(run.importJobUrl());
    int attempt = run.importAttempt() == null ? 0 : run.importAttempt();
    if (job == null) {
      attempt++;
      List<PathlingImportClient.StagedFile> files = staging.forAttempt(area, statusUrl, manifest, attempt);
      if (files.isEmpty()) {
        return;
      }
      job = pathling.kickOffImport(files, saveMode);
      journal.importStarted(job.toString(), attempt);
      log.info("Pathling $import of {} file(s) started; polling {}", files.size(), job);
    } else {
      log.info("Resuming the wait for Pathling's import job at {}", job);
    }
    try {
      pathling.awaitJob(job, text -> log.info("Pathling import in progress: {}", text));
    } catch (PathlingImportClient.ImportFailedException e) {
      // Forget the job, so that running the backfill again retries the import with a new request.
      journal.importStarted(null, attempt);
      throw e;
    }
    log.info("Pathling $import finished");
  }
}
