package org.pathlingrelay.backfill;

import java.util.ArrayList;
import java.util.List;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ChangeAppender;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams an export file into the outbox: every line of an output file becomes an upsert, every
 * entry of a deleted file a delete, under the outbox's version guard. Lines go in chunks, each
 * journalled once it is durable, so a broken download or a killed run resumes after the last
 * durable line.
 */
final class OutboxLoader {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);
  private static final int CHUNK = 4_000;

  private final ChangeAppender appender;
  private final Journal journal;
  private final LineParser lines;
  private final FileDownloads downloads;
  private final BackfillProgress progress;

  OutboxLoader(
      ChangeAppender appender, Journal journal, LineParser lines, FileDownloads downloads, BackfillProgress progress) {
    this.appender = appender;
    this.journal = journal;
    this.lines = lines;
    this.downloads = downloads;
    this.progress = progress;
  }

  /** @param deletedFile one of the manifest's deleted files (Bundles of deletes), not resources */
  void load(ExportFile file, boolean requiresToken, boolean deletedFile, LoadCounts counts)
      throws InterruptedException {
    String url = file.url().toString();
    if (!journal.fileDone(url)) {
      downloads.read(file, requiresToken, "Downloading", () -> "resuming after line " + journal.linesDone(url),
          in -> {
            long skip = journal.linesDone(url);
            NdjsonLines ndjson = new NdjsonLines(in);
            long lineNumber = 0;
            List<Change> chunk = new ArrayList<>(CHUNK);
            byte[] line;
            while ((line = ndjson.next()) != null) {
              lineNumber++;
              if (lineNumber <= skip || NdjsonLines.isBlank(line)) {
                continue;
              }
              parseInto(line, file, deletedFile, chunk, counts);
              if (chunk.size() >= CHUNK) {
                queue(chunk, counts);
                journal.progress(url, lineNumber, false);
              }
            }
            queue(chunk, counts);
            journal.progress(url, lineNumber, true);
            return null;
          });
    }
    progress.fileDone();
  }

  /** Deletes found elsewhere than in the export's files (the source's history). */
  void queueDeletes(List<Change> deletes, LoadCounts counts) {
    List<Change> chunk = new ArrayList<>(CHUNK);
    for (Change delete : deletes) {
      counts.of(delete.key().type()).deletes.incrementAndGet();
      chunk.add(delete);
      if (chunk.size() >= CHUNK) {
        queue(chunk, counts);
      }
    }
    queue(chunk, counts);
  }

  private void parseInto(byte[] line, ExportFile file, boolean deletedFile, List<Change> chunk, LoadCounts counts) {
    try {
      if (deletedFile) {
        for (Change delete : lines.deletes(line)) {
          counts.of(delete.key().type()).deletes.incrementAndGet();
          chunk.add(delete);
        }
      } else {
        Change upsert = lines.upsert(line);
        counts.of(upsert.key().type()).exported.incrementAndGet();
        chunk.add(upsert);
      }
    } catch (LineParser.BadLineException e) {
      TypeTally tally = counts.of(file.type());
      tally.errors.incrementAndGet();
      if (!deletedFile) {
        tally.exported.incrementAndGet();
      }
      log.warn("Skipping a line of the {} file that cannot be synced: {}", file.type(), e.getMessage());
    }
  }

  private void queue(List<Change> chunk, LoadCounts counts) {
    if (chunk.isEmpty()) {
      return;
    }
    List<Disposition> dispositions = appender.append(chunk).join();
    long taken = dispositions.stream().filter(d -> d != Disposition.STALE).count();
    progress.queued(taken);
    for (int i = 0; i < chunk.size(); i++) {
      TypeTally tally = counts.of(chunk.get(i).key().type());
      if (dispositions.get(i) == Disposition.STALE) {
        tally.stale.incrementAndGet();
      } else {
        tally.queued.incrementAndGet();
      }
    }
    chunk.clear();
  }
}
