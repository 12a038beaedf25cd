package org.pathlingrelay.backfill;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.pathlingrelay.source.ExportManifest;

/**
 * {@code --load relay}: every exported line becomes a change in the same outbox the live stream
 * feeds, and the forwarder sends them. The outbox's version guard lets a live change that is
 * newer than what the export read win.
 */
final class RelayLoad implements Load {

  private final SourceExport export;
  private final ExportDownloads downloads;
  private final OutboxLoader outbox;
  private final HistoryDeletes historyDeletes;
  private final ForwardingHold hold;
  private final DeliveryWait delivery;
  private final InstantSource clock;

  RelayLoad(
      SourceExport export, ExportDownloads downloads, OutboxLoader outbox, HistoryDeletes historyDeletes,
      ForwardingHold hold, DeliveryWait delivery, InstantSource clock) {
    this.export = export;
    this.downloads = downloads;
    this.outbox = outbox;
    this.historyDeletes = historyDeletes;
    this.hold = hold;
    this.delivery = delivery;
    this.clock = clock;
  }

  @Override
  public BackfillReport run(BackfillPlan plan) throws InterruptedException {
    Instant started = clock.instant();
    return export.run(plan, job -> {
      ExportManifest manifest = job.manifest();
      LoadCounts counts = new LoadCounts();
      long queuedUpTo = job.queueOnce(() -> {
        try (TypeHolds holds = TypeHolds.of(manifest.output(), hold)) {
          downloads.load(manifest, plan.downloadConcurrency(), (m, index, c) -> {
            queue(m, index, c);
            holds.queued(m.output().get(index).type());
          }, counts);
        }
        historyDeletes.queue(plan.request(), manifest, counts);
      });
      long forwarded = delivery.await(queuedUpTo);
      job.complete(manifest);
      return counts.report(manifest.transactionTime(), Duration.between(started, clock.instant()), forwarded,
          job.resumed());
    }, purged -> {});
  }

  private void queue(ExportManifest manifest, int index, LoadCounts counts) throws InterruptedException {
    outbox.load(manifest.output().get(index), manifest.requiresAccessToken(), false, counts);
  }
}
