package org.pathlingrelay.backfill;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.outbox.OutboxReader;
import org.pathlingrelay.outbox.OutboxWriter;
import org.pathlingrelay.pathling.PathlingImportClient;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads history through a bulk export into the same outbox the live stream feeds: every exported
 * line becomes an upsert, every entry of a {@code deleted} file a delete, under the outbox's
 * version guard, so a live change that is newer than what the export read always wins. Progress
 * is journalled, so a killed run resumes polling or downloading instead of exporting again.
 */
public final class Backfill {

  private static final Logger log = LoggerFactory.getLogger(Backfill.class);
  private static final int CHUNK = 4_000;
  private static final int FILE_ATTEMPTS = 5;

  private final BulkExportClient source;
  private final OutboxWriter writer;
  private final OutboxReader reader;
  private final Path dataDir;
  private final Journal journal;
  private final LineParser lines;
  private final BulkExportClient.Pause pause;
  private final Optional<PathlingImportClient> importer;
  private final StagingAreas stagingAreas;
  private final ForwardingHold hold;
  private final BackfillProgress progress;
  private final DeliveryWatch watch;

  public Backfill(
      BulkExportClient source,
      OutboxWriter writer,
      OutboxReader reader,
      Path dataDir,
      Set<String> resourceTypes,
      BulkExportClient.Pause pause) {
    this(source, writer, reader, dataDir, resourceTypes, pause, null, ForwardingHold.NONE, BackfillProgress.log());
  }

  public Backfill(
      BulkExportClient source,
      OutboxWriter writer,
      OutboxReader reader,
      Path dataDir,
      Set<String> resourceTypes,
      BulkExportClient.Pause pause,
      PathlingLoads pathling,
      ForwardingHold hold,
      BackfillProgress progress) {
    this(source, writer, reader, dataDir, resourceTypes, pause, pathling, hold, progress, DeliveryWatch.unbounded());
  }

  /**
   * With Pathling's bulk loads ({@code --load import} and {@code pnp}).
   *
   * @param pathling where {@code $import} and {@code $import-pnp} go
   * @param hold pauses this process's forwarding of the types being imported
   * @param watch how long to wait for forwarding that delivers nothing, and what is known of why
   */
  public Backfill(
      BulkExportClient source,
      OutboxWriter writer,
      OutboxReader reader,
      Path dataDir,
      Set<String> resourceTypes,
      BulkExportClient.Pause pause,
      PathlingLoads pathling,
      ForwardingHold hold,
      BackfillProgress progress,
      DeliveryWatch watch) {
    this.source = source;
    this.writer = writer;
    this.reader = reader;
    this.dataDir = dataDir;
    this.journal = new Journal(dataDir);
    this.lines = new LineParser(resourceTypes);
    this.pause = pause;
    this.importer = Optional.ofNullable(pathling).map(PathlingLoads::client);
    this.stagingAreas = pathling == null ? StagingAreas.localOnly() : pathling.staging;
    this.hold = hold;
    this.progress = progress;
    this.watch = watch;
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
      return "Everything exported is queued; " + reader.pendingUpTo(run.queuedUpToSeq())
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
      return runLocked(plan);
    }
  }

  private BackfillReport runLocked(BackfillPlan plan) throws InterruptedException {
    if (plan.load() != LoadMode.RELAY && importer.isEmpty()) {
      throw new IllegalStateException("--load " + plan.load().name().toLowerCase() + " needs Pathling's URL");
    }
    if (plan.load() == LoadMode.PNP) {
      return runPnp(plan);
    }
    // An import writes to Pathling directly: pause forwarding of its types from before the export
    // until the import is done, so nothing forwarded meanwhile is older than what it loads.
    AutoCloseable held = plan.load() == LoadMode.IMPORT ? hold.hold(Set.copyOf(plan.request().types())) : () -> {};
    try {
      return runExport(plan, held);
    } finally {
      release(held);
    }
  }

  private static void release(AutoCloseable held) {
    try {
      held.close();
    } catch (Exception e) {
      throw new IllegalStateException("cannot resume forwarding: " + e.getMessage(), e);
    }
  }

  private BackfillReport runExport(BackfillPlan plan, AutoCloseable held) throws InterruptedException {
    long started = System.nanoTime();
    String fingerprint = plan.fingerprint();
    Optional<Journal.Run> previous = journal.run();
    if (previous.isPresent() && !previous.get().fingerprint().equals(fingerprint)) {
      log.info("Abandoning an unfinished backfill with other parameters; starting a new export");
      cancelQuietly(previous.get().statusUrl());
      journal.abandon();
      previous = Optional.empty();
    }
    if (previous.isPresent()) {
      URI statusUrl = URI.create(previous.get().statusUrl());
      log.info("Resuming the backfill whose export is at {}", statusUrl);
      try {
        return export(plan, held, statusUrl, started, true);
      } catch (SourceException e) {
        if (!exportGone(e)) {
          throw e;
        }
        // The source purges a finished export after a while (HAPI: bulkExportFileRetentionPeriodHours,
        // 2 h by default), and a stopped run cancels its own. Resuming would then fail the same way
        // on every run, so start over: lines already queued are only sent again, and the outbox's
        // version guard keeps whichever version is newer.
        log.warn("The export being resumed is gone from the source ({}); starting a new export", e.getMessage());
        plan.staging().ifPresent(staging -> deleteStaged(staging, statusUrl));
        journal.abandon();
      }
    }
    URI statusUrl = source.kickOff(plan.request());
    journal.start(fingerprint, statusUrl.toString());
    log.info("Export started; polling {}", statusUrl);
    return export(plan, held, statusUrl, started, false);
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

  private BackfillReport export(BackfillPlan plan, AutoCloseable held, URI statusUrl, long started, boolean resumed)
      throws InterruptedException {
    ExportManifest manifest = journal.run().map(Journal.Run::manifest).orElse(null);
    if (manifest == null) {
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
    }

    Map<String, TypeTally> tallies = new ConcurrentHashMap<>();
    List<String> sourceErrors = new CopyOnWriteArrayList<>();
    Long queuedUpTo = journal.run().map(Journal.Run::queuedUpToSeq).orElse(null);
    if (queuedUpTo == null) {
      load(manifest, plan, tallies, sourceErrors);
      if (plan.load() == LoadMode.IMPORT) {
        importStaged(manifest, plan, statusUrl);
      }
      queuedUpTo = reader.lastSeq();
      journal.queued(queuedUpTo);
    }
    release(held);
    long forwarded = new DeliveryWait(reader, pause, progress, watch).await(queuedUpTo);
    plan.staging().filter(staging -> !staging.keep()).ifPresent(staging -> deleteStaged(staging, statusUrl));
    journal.complete(Optional.of(manifest.transactionTime()));
    // The source may delete its files once we are done with them.
    cancelQuietly(statusUrl.toString());

    List<BackfillReport.TypeCounts> counts = new ArrayList<>();
    new TreeMap<>(tallies).forEach((type, tally) -> counts.add(tally.snapshot(type)));
    return new BackfillReport(
        manifest.transactionTime(), counts, sourceErrors, true,
        Duration.ofNanos(System.nanoTime() - started), forwarded, resumed, Optional.empty(), 0);
  }

  private void load(
      ExportManifest manifest, BackfillPlan plan, Map<String, TypeTally> tallies, List<String> sourceErrors)
      throws InterruptedException {
    ExecutorService downloads = Executors.newFixedThreadPool(plan.downloadConcurrency(), runnable -> {
      Thread thread = new Thread(runnable, "backfill-download");
      thread.setDaemon(true);
      return thread;
    });
    AtomicLong queuedTotal = new AtomicLong();
    progress.downloadsStarted(manifest.output().size() + manifest.deleted().size());
    try {
      List<Future<?>> files = new ArrayList<>();
      List<ExportFile> output = manifest.output();
      StagingArea area = plan.load() == LoadMode.IMPORT ? stagingAreas.open(plan.staging().orElseThrow()) : null;
      if (area != null) {
        try {
          area.abortUnfinished();
        } catch (IOException e) {
          throw new UncheckedIOException("cannot clean up the staging area", e);
        }
      }
      for (int i = 0; i < output.size(); i++) {
        ExportFile file = output.get(i);
        if (plan.load() == LoadMode.IMPORT) {
          String target = stagedPath(manifest, i);
          files.add(downloads.submit(() -> stageFile(file, manifest.requiresAccessToken(), area, target, tallies, progress)));
        } else {
          files.add(downloads.submit(() -> loadFile(file, manifest.requiresAccessToken(), false, tallies, queuedTotal, progress)));
        }
      }
      for (ExportFile file : manifest.deleted()) {
        files.add(downloads.submit(() -> loadFile(file, manifest.requiresAccessToken(), true, tallies, queuedTotal, progress)));
      }
      for (ExportFile file : manifest.error()) {
        files.add(downloads.submit(() -> readErrors(file, manifest.requiresAccessToken(), sourceErrors)));
      }
      for (Future<?> file : files) {
        try {
          file.get();
        } catch (ExecutionException e) {
          downloads.shutdownNow();
          if (e.getCause() instanceof RuntimeException runtime) {
            throw runtime;
          }
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      downloads.shutdownNow();
    }
  }

  /** Streams one file into the outbox in chunks, journalling each chunk once it is durable. */
  private Void loadFile(
      ExportFile file, boolean requiresToken, boolean deletedFile, Map<String, TypeTally> tallies,
      AtomicLong queuedTotal, BackfillProgress progress) throws InterruptedException {
    String url = file.url().toString();
    if (journal.fileDone(url)) {
      progress.fileDone();
      return null;
    }
    for (int attempt = 1; ; attempt++) {
      long skip = journal.linesDone(url);
      try (NdjsonLines in = new NdjsonLines(source.download(file.url(), requiresToken))) {
        long lineNumber = 0;
        List<Change> chunk = new ArrayList<>(CHUNK);
        byte[] line;
        while ((line = in.next()) != null) {
          lineNumber++;
          if (lineNumber <= skip || NdjsonLines.isBlank(line)) {
            continue;
          }
          parseInto(line, file, deletedFile, chunk, tallies);
          if (chunk.size() >= CHUNK) {
            queue(chunk, tallies, queuedTotal);
            journal.progress(url, lineNumber, false);
          }
        }
        queue(chunk, tallies, queuedTotal);
        journal.progress(url, lineNumber, true);
        progress.fileDone();
        return null;
      } catch (IOException | SourceException e) {
        boolean retriable = !(e instanceof SourceException s) || s.isTransient();
        if (!retriable || attempt >= FILE_ATTEMPTS) {
          throw new SourceException("Downloading " + url + " failed: " + e.getMessage(), 0, false, null, e);
        }
        log.warn("Download of {} broke off ({}); resuming after line {}", url, e.getMessage(), journal.linesDone(url));
        pause.pause(source.initialBackoff().multipliedBy(1L << Math.min(attempt, 5)));
      }
    }
  }

  private void parseInto(byte[] line, ExportFile file, boolean deletedFile, List<Change> chunk, Map<String, TypeTally> tallies) {
    try {
      if (deletedFile) {
        for (Change delete : lines.deletes(line)) {
          TypeTally tally = tallies.computeIfAbsent(delete.key().type(), t -> new TypeTally());
          tally.deletes.incrementAndGet();
          chunk.add(delete);
        }
      } else {
        Change upsert = lines.upsert(line);
        tallies.computeIfAbsent(upsert.key().type(), t -> new TypeTally()).exported.incrementAndGet();
        chunk.add(upsert);
      }
    } catch (LineParser.BadLineException e) {
      TypeTally tally = tallies.computeIfAbsent(file.type(), t -> new TypeTally());
      tally.errors.incrementAndGet();
      if (!deletedFile) {
        tally.exported.incrementAndGet();
      }
      log.warn("Skipping a line of the {} file that cannot be synced: {}", file.type(), e.getMessage());
    }
  }

  private void queue(List<Change> chunk, Map<String, TypeTally> tallies, AtomicLong queuedTotal) {
    if (chunk.isEmpty()) {
      return;
    }
    List<Disposition> dispositions = writer.append(chunk).join();
    long taken = dispositions.stream().filter(d -> d != Disposition.STALE).count();
    progress.queued(taken);
    for (int i = 0; i < chunk.size(); i++) {
      TypeTally tally = tallies.computeIfAbsent(chunk.get(i).key().type(), t -> new TypeTally());
      if (dispositions.get(i) == Disposition.STALE) {
        tally.stale.incrementAndGet();
      } else {
        tally.queued.incrementAndGet();
        queuedTotal.incrementAndGet();
      }
    }
    chunk.clear();
  }

  private Void readErrors(ExportFile file, boolean requiresToken, List<String> sourceErrors) {
    try (InputStream stream = source.download(file.url(), requiresToken);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (!line.isBlank()) {
          String text = line.length() > 1_000 ? line.substring(0, 1_000) + "..." : line;
          sourceErrors.add(text);
          log.warn("The source reported an export error: {}", text);
        }
      }
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the export's error file " + file.url(), e);
    }
  }

  // ---- --load import ----

  /** One folder per export in the staging area; file names end in .ndjson, as Pathling needs. */
  private String stagedPath(ExportManifest manifest, int index) {
    ExportFile file = manifest.output().get(index);
    return runFolder(URI.create(journal.run().orElseThrow().statusUrl())) + "/"
        + file.type() + "." + String.format("%04d", index) + ".ndjson";
  }

  private static String runFolder(URI statusUrl) {
    return "export-" + Integer.toHexString(statusUrl.toString().hashCode());
  }

  /** Streams one file into the staging area; a cut-off download starts the file again. */
  private Void stageFile(ExportFile file, boolean requiresToken, StagingArea area, String target,
      Map<String, TypeTally> tallies, BackfillProgress progress) throws InterruptedException {
    String url = file.url().toString();
    if (journal.fileDone(url)) {
      progress.fileDone();
      return null;
    }
    for (int attempt = 1; ; attempt++) {
      try (InputStream stream = source.download(file.url(), requiresToken);
          BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8), 1 << 16);
          StagingArea.StagedFile staged = area.create(target)) {
        long lines = 0;
        java.io.Writer out = staged.writer();
        String line;
        while ((line = in.readLine()) != null) {
          if (!line.isBlank()) {
            out.write(line);
            out.write('\n');
            lines++;
          }
        }
        staged.commit();
        TypeTally tally = tallies.computeIfAbsent(file.type(), t -> new TypeTally());
        tally.exported.addAndGet(lines);
        tally.queued.addAndGet(lines);
        progress.queued(lines);
        journal.progress(url, lines, true);
        progress.fileDone();
        return null;
      } catch (IOException | SourceException e) {
        boolean retriable = !(e instanceof SourceException s) || s.isTransient();
        if (!retriable || attempt >= FILE_ATTEMPTS) {
          throw new SourceException("Staging " + url + " failed: " + e.getMessage(), 0, false, null, e);
        }
        log.warn("Download of {} broke off ({}); starting the file again", url, e.getMessage());
        pause.pause(source.initialBackoff().multipliedBy(1L << Math.min(attempt, 5)));
      }
    }
  }

  /**
   * Calls {@code $import} with every staged file and waits for the job. Each attempt gets its own
   * folder of copies (links on disk): Pathling hands back the same (failed) job for an identical
   * request, so a retry must differ.
   */
  private void importStaged(ExportManifest manifest, BackfillPlan plan, URI statusUrl) throws InterruptedException {
    PathlingImportClient client = importer.orElseThrow();
    StagingArea area = stagingAreas.open(plan.staging().orElseThrow());
    Journal.Run run = journal.run().orElseThrow();
    URI job = run.importJobUrl() == null ? null : URI.create(run.importJobUrl());
    int attempt = run.importAttempt() == null ? 0 : run.importAttempt();
    if (job == null) {
      attempt++;
      String linkFolder = runFolder(statusUrl) + "/import-" + attempt;
      List<PathlingImportClient.StagedFile> files = new ArrayList<>();
      try {
        for (int i = 0; i < manifest.output().size(); i++) {
          String staged = stagedPath(manifest, i);
          String link = linkFolder + staged.substring(staged.lastIndexOf('/'));
          area.copy(staged, link);
          files.add(new PathlingImportClient.StagedFile(manifest.output().get(i).type(), area.urlFor(link)));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot prepare the staged files", e);
      }
      if (files.isEmpty()) {
        return;
      }
      job = client.kickOffImport(files, plan.saveMode());
      journal.importStarted(job.toString(), attempt);
      log.info("Pathling $import of {} file(s) started; polling {}", files.size(), job);
    } else {
      log.info("Resuming the wait for Pathling's import job at {}", job);
    }
    try {
      client.awaitJob(job, text -> log.info("Pathling import in progress: {}", text));
    } catch (PathlingImportClient.ImportFailedException e) {
      // Forget the job, so that running the backfill again retries the import with a new request.
      journal.importStarted(null, attempt);
      throw e;
    }
    log.info("Pathling $import finished");
  }

  private void deleteStaged(BackfillPlan.Staging staging, URI statusUrl) {
    try {
      stagingAreas.open(staging).deleteFolder(runFolder(statusUrl));
    } catch (IOException | RuntimeException e) {
      log.warn("Could not remove the staged files of {}: {}", runFolder(statusUrl), e.getMessage());
    }
  }

  // ---- --load pnp ----

  /** Pathling exports from the source itself; the relay pauses forwarding, kicks off and polls. */
  private BackfillReport runPnp(BackfillPlan plan) throws InterruptedException {
    long started = System.nanoTime();
    PathlingImportClient client = importer.orElseThrow();
    String fingerprint = plan.fingerprint();
    Optional<Journal.Run> previous = journal.run().filter(run -> run.fingerprint().equals(fingerprint));
    AutoCloseable held = hold.hold(Set.copyOf(plan.request().types()));
    try {
      // The watermark is the instant before the kick-off: Pathling's export from the source reads
      // a snapshot at least that new. The $job result's transactionTime is when Pathling ran the
      // import, minutes later: a change made in between would be in neither this load nor the next sync.
      Instant kickedOffAt;
      URI job;
      if (previous.isPresent() && previous.get().importJobUrl() != null) {
        job = URI.create(previous.get().importJobUrl());
        kickedOffAt = previous.get().kickedOffAt();
        log.info("Resuming the wait for Pathling's $import-pnp job at {}", job);
      } else {
        kickedOffAt = watch.clock().instant();
        job = client.kickOffPnp(source.baseUrl(), plan.saveMode(), plan.request().types(), plan.request().since());
        journal.start(fingerprint, job.toString(), kickedOffAt);
        journal.importStarted(job.toString(), 1);
        log.info("Pathling $import-pnp from {} started; polling {}", source.baseUrl(), job);
      }
      try {
        client.awaitJob(job, text -> log.info("Pathling import in progress: {}", text));
      } catch (PathlingImportClient.ImportFailedException e) {
        journal.abandon();
        throw e;
      }
      // A journal written before the kick-off time was kept has no safe watermark: keep the old one.
      journal.complete(Optional.ofNullable(kickedOffAt));
      Instant watermark = journal.watermark().orElse(null);
      return new BackfillReport(watermark, List.of(), List.of(), true, Duration.ofNanos(System.nanoTime() - started),
          0, previous.isPresent(), Optional.of(plan.request().types()), 0);
    } finally {
      release(held);
    }
  }

  private void cancelQuietly(String statusUrl) {
    try {
      source.cancel(URI.create(statusUrl));
    } catch (RuntimeException e) {
      log.debug("Could not release the export at {}: {}", statusUrl, e.getMessage());
    }
  }
}
