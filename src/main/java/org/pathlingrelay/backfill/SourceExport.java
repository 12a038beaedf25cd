package org.pathlingrelay.backfill;

import java.net.URI;
import java.util.Optional;
import java.util.function.Consumer;
import org.pathlingrelay.outbox.DeliveryProgress;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's own bulk export of a plan, for the loads that read it ({@link RelayLoad},
 * {@link ImportLoad}): resumed from the journal after a stop, replaced when the plan changed or
 * the source purged it, kicked off otherwise.
 */
final class SourceExport {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  /** What a load does with the export once it is kicked off or resumed. */
  @FunctionalInterface
  interface Use {
    BackfillReport load(ExportJob job) throws InterruptedException;
  }

  private final BulkExportClient source;
  private final Journal journal;
  private final DeliveryProgress forwarding;
  private final BackfillProgress progress;

  SourceExport(BulkExportClient source, Journal journal, DeliveryProgress forwarding, BackfillProgress progress) {
    this.source = source;
    this.journal = journal;
    this.forwarding = forwarding;
    this.progress = progress;
  }

  /** @param purged cleans up after a resumed export the source no longer has (given its status URL) */
  BackfillReport run(BackfillPlan plan, Use use, Consumer<URI> purged) throws InterruptedException {
    String fingerprint = plan.fingerprint();
    Optional<Journal.Run> previous = journal.run();
    if (previous.isPresent() && !previous.get().fingerprint().equals(fingerprint)) {
      log.info("Abandoning an unfinished backfill with other parameters; starting a new export");
      release(source, URI.create(previous.get().statusUrl()));
      journal.abandon();
      previous = Optional.empty();
    }
    if (previous.isPresent()) {
      URI statusUrl = URI.create(previous.get().statusUrl());
      log.info("Resuming the backfill whose export is at {}", statusUrl);
      try {
        return use.load(job(statusUrl, true));
      } catch (SourceException e) {
        if (!exportGone(e)) {
          throw e;
        }
        // The source purges a finished export after a while (HAPI: bulkExportFileRetentionPeriodHours,
        // 2 h by default), and a stopped run cancels its own. Resuming would then fail the same way
        // on every run, so start over: lines already queued are only sent again, and the outbox's
        // version guard keeps whichever version is newer.
        log.warn("The export being resumed is gone from the source ({}); starting a new export", e.getMessage());
        purged.accept(statusUrl);
        journal.abandon();
      }
    }
    URI statusUrl = source.kickOff(plan.request());
    journal.start(fingerprint, statusUrl.toString());
    log.info("Export started; polling {}", statusUrl);
    return use.load(job(statusUrl, false));
  }

  /** A 404 or 410 from the source about the export: its job or files no longer exist there. */
  private static boolean exportGone(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof SourceException source && (source.status() == 404 || source.status() == 410)) {
        return true;
      }
    }
    return false;
  }

  private ExportJob job(URI statusUrl, boolean resumed) {
    return new ExportJob(source, journal, forwarding, progress, statusUrl, resumed);
  }

  /** Cancels the export job, which lets the source delete it; a failure only costs the source disk space. */
  static void release(BulkExportClient source, URI statusUrl) {
    try {
      source.cancel(statusUrl);
    } catch (RuntimeException e) {
      log.debug("Could not release the export at {}: {}", statusUrl, e.getMessage());
    }
  }
}
