package org.pathlingrelay.backfill;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.ExportManifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every file of a finished export, several at a time: each output file goes where the load
 * puts it, the deleted files go into the outbox whatever the load (Pathling's {@code $import}
 * cannot delete), and the error files go to the report.
 */
final class ExportDownloads {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  /** What a load does with one output file of the export; runs on a download thread. */
  @FunctionalInterface
  interface Output {
    void take(ExportManifest manifest, int index, LoadCounts counts) throws InterruptedException;
  }

  private final BulkExportClient source;
  private final OutboxLoader outbox;
  private final BackfillProgress progress;

  ExportDownloads(BulkExportClient source, OutboxLoader outbox, BackfillProgress progress) {
    this.source = source;
    this.outbox = outbox;
    this.progress = progress;
  }

  /** Returns once every file is read; the first failure stops the others and is thrown. */
  void load(ExportManifest manifest, int concurrency, Output output, LoadCounts counts) throws InterruptedException {
    ExecutorService downloads = Executors.newFixedThreadPool(concurrency, runnable -> {
      Thread thread = new Thread(runnable, "backfill-download");
      thread.setDaemon(true);
      return thread;
    });
    boolean token = manifest.requiresAccessToken();
    progress.downloadsStarted(manifest.output().size() + manifest.deleted().size());
    try {
      List<Future<?>> files = new ArrayList<>();
      for (int i = 0; i < manifest.output().size(); i++) {
        int index = i;
        files.add(downloads.submit(task(() -> output.take(manifest, index, counts))));
      }
      for (ExportFile file : manifest.deleted()) {
        files.add(downloads.submit(task(() -> outbox.load(file, token, true, counts))));
      }
      for (ExportFile file : manifest.error()) {
        files.add(downloads.submit(task(() -> readErrors(file, token, counts))));
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

  @FunctionalInterface
  private interface FileTask {
    void run() throws InterruptedException;
  }

  private static Callable<Void> task(FileTask task) {
    return () -> {
      task.run();
      return null;
    };
  }

  private void readErrors(ExportFile file, boolean requiresToken, LoadCounts counts) {
    try (InputStream stream = source.download(file.url(), requiresToken);
        BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (!line.isBlank()) {
          String text = line.length() > 1_000 ? line.substring(0, 1_000) + "..." : line;
          counts.sourceError(text);
          log.warn("The source reported an export error: {}", text);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the export's error file " + file.url(), e);
    }
  }
}
