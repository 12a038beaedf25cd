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
  private static final int CHUNK = 1_000;
  private static final int FILE_ATTEMPTS = 5;
  private static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);

  private final BulkExportClient source;
  private final OutboxWriter writer;
  private final OutboxReader reader;
  private final Journal journal;
  private final LineParser lines;
  private final BulkExportClient.Pause pause;

  public Backfill(
      BulkExportClient source,
      OutboxWriter writer,
      OutboxReader reader,
      Path dataDir,
      Set<String> resourceTypes,
      BulkExportClient.Pause pause) {
    this.source = source;
    this.writer = writer;
    this.reader = reader;
    this.journal = new Journal(dataDir);
    this.lines = new LineParser(resourceTypes);
    this.pause = pause;
  }

  /** The transaction time of the last complete run: where the next {@code sync} starts. */
  public Optional<Instant> watermark() {
    return journal.watermark();
  }

  public BackfillReport run(BackfillPlan plan) throws InterruptedException {
    long started = System.nanoTime();
    String fingerprint = plan.fingerprint();
    Optional<Journal.Run> previous = journal.run();
    if (previous.isPresent() && !previous.get().fingerprint().equals(fingerprint)) {
      log.info("Abandoning an unfinished backfill with other parameters; starting a new export");
      cancelQuietly(previous.get().statusUrl());
      journal.abandon();
      previous = Optional.empty();
    }
    URI statusUrl;
    if (previous.isPresent()) {
      statusUrl = URI.create(previous.get().statusUrl());
      log.info("Resuming the backfill whose export is at {}", statusUrl);
    } else {
      statusUrl = source.kickOff(plan.request());
      journal.start(fingerprint, statusUrl.toString());
      log.info("Export started; polling {}", statusUrl);
    }

    ExportManifest manifest = journal.run().map(Journal.Run::manifest).orElse(null);
    if (manifest == null) {
      manifest = source.awaitManifest(statusUrl, progress -> log.info("Export in progress: {}", progress));
      journal.manifest(manifest);
      log.info("Export complete: {} output file(s), {} deleted file(s), {} error file(s)",
          manifest.output().size(), manifest.deleted().size(), manifest.error().size());
    }

    Map<String, TypeTally> tallies = new ConcurrentHashMap<>();
    List<String> sourceErrors = new CopyOnWriteArrayList<>();
    Long queuedUpTo = journal.run().map(Journal.Run::queuedUpToSeq).orElse(null);
    if (queuedUpTo == null) {
      load(manifest, plan.downloadConcurrency(), tallies, sourceErrors);
      queuedUpTo = reader.lastSeq();
      journal.queued(queuedUpTo);
    }
    awaitDelivery(queuedUpTo);
    journal.complete(Optional.of(manifest.transactionTime()));
    // The source may delete its files once we are done with them.
    cancelQuietly(statusUrl.toString());

    List<BackfillReport.TypeCounts> counts = new ArrayList<>();
    new TreeMap<>(tallies).forEach((type, tally) -> counts.add(tally.snapshot(type)));
    return new BackfillReport(
        manifest.transactionTime(), counts, sourceErrors, true,
        Duration.ofNanos(System.nanoTime() - started));
  }

  private void load(
      ExportManifest manifest, int concurrency, Map<String, TypeTally> tallies, List<String> sourceErrors)
      throws InterruptedException {
    ExecutorService downloads = Executors.newFixedThreadPool(concurrency, runnable -> {
      Thread thread = new Thread(runnable, "backfill-download");
      thread.setDaemon(true);
      return thread;
    });
    AtomicLong queuedTotal = new AtomicLong();
    ProgressLog progress = new ProgressLog(queuedTotal, manifest.output().size() + manifest.deleted().size());
    try {
      List<Future<?>> files = new ArrayList<>();
      for (ExportFile file : manifest.output()) {
        files.add(downloads.submit(() -> loadFile(file, manifest.requiresAccessToken(), false, tallies, queuedTotal, progress)));
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
      AtomicLong queuedTotal, ProgressLog progress) throws InterruptedException {
    String url = file.url().toString();
    if (journal.fileDone(url)) {
      progress.fileDone();
      return null;
    }
    for (int attempt = 1; ; attempt++) {
      long skip = journal.linesDone(url);
      try (InputStream stream = source.download(file.url(), requiresToken);
          BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8), 1 << 16)) {
        long lineNumber = 0;
        List<Change> chunk = new ArrayList<>(CHUNK);
        String line;
        while ((line = in.readLine()) != null) {
          lineNumber++;
          if (lineNumber <= skip || line.isBlank()) {
            continue;
          }
          parseInto(line, file, deletedFile, chunk, tallies);
          if (chunk.size() >= CHUNK) {
            queue(chunk, tallies, queuedTotal);
            journal.progress(url, lineNumber, false);
            progress.maybeLog();
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

  private void parseInto(String line, ExportFile file, boolean deletedFile, List<Change> chunk, Map<String, TypeTally> tallies) {
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

  /** Waits until everything this run queued (or a newer version of it) has left the outbox. */
  private void awaitDelivery(long upToSeq) throws InterruptedException {
    long lastLog = System.nanoTime();
    long pending;
    while ((pending = reader.pendingUpTo(upToSeq)) > 0) {
      if (System.nanoTime() - lastLog > PROGRESS_EVERY.toNanos()) {
        log.info("Backfill: {} change(s) still to be forwarded to Pathling", pending);
        lastLog = System.nanoTime();
      }
      pause.pause(Duration.ofMillis(200));
    }
  }

  private void cancelQuietly(String statusUrl) {
    try {
      source.cancel(URI.create(statusUrl));
    } catch (RuntimeException e) {
      log.debug("Could not release the export at {}: {}", statusUrl, e.getMessage());
    }
  }

  /** A log line every few seconds instead of one per file or chunk. */
  private static final class ProgressLog {
    private final AtomicLong queued;
    private final int files;
    private final AtomicLong filesDone = new AtomicLong();
    private final long started = System.nanoTime();
    private volatile long lastLog = System.nanoTime();

    ProgressLog(AtomicLong queued, int files) {
      this.queued = queued;
      this.files = files;
    }

    void fileDone() {
      filesDone.incrementAndGet();
      maybeLog();
    }

    void maybeLog() {
      long now = System.nanoTime();
      if (now - lastLog < PROGRESS_EVERY.toNanos()) {
        return;
      }
      lastLog = now;
      double seconds = (now - started) / 1e9;
      log.info("Backfill: {} of {} file(s) loaded, {} change(s) queued ({} /s)",
          filesDone.get(), files, queued.get(), Math.round(queued.get() / Math.max(seconds, 0.001)));
    }
  }
}
