package org.pathlingrelay.backfill;

import java.net.URI;
import java.util.Optional;
import org.pathlingrelay.outbox.DeliveryProgress;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One export a load reads, and the journal's record of how far the load got with it: the
 * manifest once the export completed, then whether everything is queued.
 */
final class ExportJob {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  private final BulkExportClient source;
  private final Journal journal;
  private final DeliveryProgress forwarding;
  private final BackfillProgress progress;
  private final URI statusUrl;
  private final boolean resumed;

  ExportJob(
      BulkExportClient source, Journal journal, DeliveryProgress forwarding, BackfillProgress progress, URI statusUrl,
      boolean resumed) {
    this.source = source;
    this.journal = journal;
    this.forwarding = forwarding;
    this.progress = progress;
    this.statusUrl = statusUrl;
    this.resumed = resumed;
  }

  URI statusUrl() {
    return statusUrl;
  }

  /** This process continues a run an earlier one started. */
  boolean resumed() {
    return resumed;
  }

  /** The journalled manifest, or the source's once the export completes. */
  ExportManifest manifest() throws InterruptedException {
    ExportManifest manifest = journal.run().map(Journal.Run::manifest).orElse(null);
    if (manifest != null) {
      return manifest;
    }
    try {
      manifest = source.awaitManifest(statusUrl, progress::exportRunning);
    } catch (InterruptedException stopped) {
      // Stopping cancels the job on the source, so no later run can resume it (HAPI 8.8.0 would
      // even answer "in progress, CANCELLED" to its polls for ever): let the next run start anew.
      journal.abandon();
      throw stopped;
    }
    journal.manifest(manifest);
    log.info("Export complete: {} output file(s), {} deleted file(s), {} error file(s)",
        manifest.output().size(), manifest.deleted().size(), manifest.error().size());
    return manifest;
  }

  /** Loads the export's files into the outbox (and Pathling). */
  @FunctionalInterface
  interface Loading {
    void load() throws InterruptedException;
  }

  /**
   * The outbox position up to which this export's changes are queued: from the journal when an
   * earlier run got that far, else once {@code loading} has loaded them all. What the outbox
   * holds then is what the run waits to see delivered.
   */
  long queueOnce(Loading loading) throws InterruptedException {
    Optional<Long> queued = journal.run().map(Journal.Run::queuedUpToSeq);
    if (queued.isPresent()) {
      return queued.get();
    }
    loading.load();
    long upTo = forwarding.lastSeq();
    journal.queued(upTo);
    return upTo;
  }

  /** The run is complete: the watermark moves to the export's time, and the source may delete its files. */
  void complete(ExportManifest manifest) {
    journal.complete(Optional.of(manifest.transactionTime()));
    SourceExport.release(source, statusUrl);
  }
}
