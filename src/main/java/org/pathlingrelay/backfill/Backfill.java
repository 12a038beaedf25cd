package org.pathlingrelay.backfill;

import io.github.resilience4j.retry.RetryRegistry;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.ChangeAppender;
import org.pathlingrelay.outbox.DeliveryProgress;
import org.pathlingrelay.pathling.PathlingImportClient;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.SourceHistory;

/**
 * Loads history into Pathling, through a bulk export into the same outbox the live stream feeds
 * or through Pathling's bulk loads. This class coordinates: one run at a time per data dir, the
 * journal that lets a killed run resume (polling, downloading or waiting instead of exporting
 * again), and what a stopped run leaves; each {@link LoadMode} is a {@link Load} of its own.
 */
public final class Backfill {

  private final DeliveryProgress forwarding;
  private final Path dataDir;
  private final Journal journal;
  private final Map<LoadMode, Load> loads = new EnumMap<>(LoadMode.class);

  public Backfill(
      BulkExportClient source,
      ChangeAppender appender,
      DeliveryProgress forwarding,
      Path dataDir,
      Set<String> resourceTypes,
      Pause pause) {
    this(source, appender, forwarding, dataDir, resourceTypes, pause, null, ForwardingHold.NONE,
        BackfillProgress.log());
  }

  public Backfill(
      BulkExportClient source,
      ChangeAppender appender,
      DeliveryProgress forwarding,
      Path dataDir,
      Set<String> resourceTypes,
      Pause pause,
      PathlingLoads pathling,
      ForwardingHold hold,
      BackfillProgress progress) {
    this(source, appender, forwarding, dataDir, resourceTypes, pause, pathling, hold, progress,
        DeliveryWatch.unbounded(), RetryRegistry.ofDefaults(), null);
  }

  /**
   * With Pathling's bulk loads ({@code --load import} and {@code pnp}) when {@code pathling} is given.
   *
   * @param pathling where {@code $import} and {@code $import-pnp} go; null for loads through the outbox only
   * @param hold pauses this process's forwarding of the types being imported
   * @param watch how long to wait for forwarding that delivers nothing, and what is known of why
   * @param retries where the retries of broken downloads count, beside the other retries' metrics
   * @param history where a {@code _since} run finds the deletes its export leaves out; null for none
   */
  public Backfill(
      BulkExportClient source,
      ChangeAppender appender,
      DeliveryProgress forwarding,
      Path dataDir,
      Set<String> resourceTypes,
      Pause pause,
      PathlingLoads pathling,
      ForwardingHold hold,
      BackfillProgress progress,
      DeliveryWatch watch,
      RetryRegistry retries,
      SourceHistory history) {
    this.forwarding = forwarding;
    this.dataDir = dataDir;
    this.journal = new Journal(dataDir);
    FileDownloads files = new FileDownloads(source, retries);
    OutboxLoader outbox = new OutboxLoader(appender, journal, new LineParser(resourceTypes), files, progress);
    ExportDownloads downloads = new ExportDownloads(source, outbox, progress);
    SourceExport export = new SourceExport(source, journal, forwarding, progress);
    DeliveryWait delivery = new DeliveryWait(forwarding, pause, progress, watch);
    HistoryDeletes historyDeletes = history == null ? HistoryDeletes.NONE : new HistoryDeletes(history, outbox);
    loads.put(LoadMode.RELAY, new RelayLoad(export, downloads, outbox, historyDeletes, hold, delivery, watch.clock()));
    if (pathling != null) {
      ExportStaging staging = new ExportStaging(pathling.staging, journal, files, progress);
      loads.put(LoadMode.IMPORT,
          new ImportLoad(export, downloads, staging, historyDeletes, appender, pathling.client(), hold, delivery, journal,
              watch.clock()));
      loads.put(LoadMode.PNP, new PnpLoad(source.baseUrl(), pathling.client(), hold, appender, journal, watch.clock()));
    }
  }

  /** How to reach Pathling's bulk loads. */
  public static final class PathlingLoads {
    private final PathlingImportClient client;
    private final StagingAreas staging;

    public PathlingLoads(PathlingImportClient client) {
      this(client, StagingAreas.localOnly());
    }

    /** @param client from {@code PathlingServer.imports}: the forwarder's Pathling, breaker included */
    public PathlingLoads(PathlingImportClient client, StagingAreas staging) {
      this.client = client;
      this.staging = staging;
    }

    PathlingImportClient client() {
      return client;
    }
  }

  /** The transaction time of the last complete run: where the next {@code sync} starts. */
  public Optional<Instant> watermark() {
    journal.reload();
    return journal.watermark();
  }

  /**
   * After a stop: what is finished, and what the same command, run again, picks up. Read from the
   * journal, which is exactly what the next run resumes from.
   */
  public String standing() {
    Optional<Journal.Run> current = journal.run();
    if (current.isEmpty()) {
      return "Nothing of this run is kept: the export was cancelled on the source, and the next run starts a new one.";
    }
    Journal.Run run = current.get();
    if (run.queuedUpToSeq() != null) {
      return "Everything exported is queued; " + forwarding.pendingUpTo(run.queuedUpToSeq())
          + " change(s) not yet forwarded are kept in the outbox. Run the same command again to forward them.";
    }
    if (run.importJobUrl() != null) {
      return "Pathling's import job " + run.importJobUrl()
          + " was left running. Run the same command again to wait for it.";
    }
    if (run.manifest() != null) {
      List<ExportFile> files = new ArrayList<>(run.manifest().output());
      files.addAll(run.manifest().deleted());
      long done = files.stream().filter(file -> run.filesDone().contains(file.url().toString())).count();
      long lines = files.stream()
          .filter(file -> !run.filesDone().contains(file.url().toString()))
          .mapToLong(file -> run.linesDone().getOrDefault(file.url().toString(), 0L))
          .sum();
      return done + " of " + files.size() + " export file(s) are fully queued (and " + lines
          + " line(s) of the others). Run the same command again to resume the downloads.";
    }
    return "The export at " + run.statusUrl() + " is kept. Run the same command again to resume polling it.";
  }

  /** @throws BackfillBusyException when another run holds the data dir */
  public BackfillReport run(BackfillPlan plan) throws InterruptedException {
    try (RunLock locked = RunLock.acquire(dataDir)) {
      journal.reload();
      Load load = loads.get(plan.load());
      if (load == null) {
        throw new IllegalStateException("--load " + plan.load().name().toLowerCase() + " needs Pathling's URL");
      }
      return load.run(plan);
    }
  }
}
