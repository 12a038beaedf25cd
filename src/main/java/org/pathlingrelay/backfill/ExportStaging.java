package org.pathlingrelay.backfill;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.pathlingrelay.pathling.PathlingImportClient;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.ExportManifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An export's output files in a staging area, for {@code $import}: one folder per export, one
 * file per output file, named as Pathling needs ({@code .ndjson}). A download that breaks off
 * stages its file again from the start; a staged file is visible only once complete.
 */
final class ExportStaging {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  private final StagingAreas areas;
  private final Journal journal;
  private final FileDownloads downloads;
  private final BackfillProgress progress;

  ExportStaging(StagingAreas areas, Journal journal, FileDownloads downloads, BackfillProgress progress) {
    this.areas = areas;
    this.journal = journal;
    this.downloads = downloads;
    this.progress = progress;
  }

  /** Opens the staging area, and cleans up after a run that was killed mid-upload. */
  StagingArea open(BackfillPlan.Staging where) {
    StagingArea area = areas.open(where);
    try {
      area.abortUnfinished();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean up the staging area", e);
    }
    return area;
  }

  /** Streams output file {@code index} of the export at {@code statusUrl} into the area. */
  void stage(StagingArea area, URI statusUrl, ExportManifest manifest, int index, LoadCounts counts)
      throws InterruptedException {
    ExportFile file = manifest.output().get(index);
    String url = file.url().toString();
    if (!journal.fileDone(url)) {
      String target = stagedPath(statusUrl, manifest, index);
      long lines = downloads.read(file, manifest.requiresAccessToken(), "Staging", () -> "starting the file again",
          stream -> {
            BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8), 1 << 16);
            try (StagingArea.StagedFile staged = area.create(target)) {
              long written = 0;
              Writer out = staged.writer();
              String line;
              while ((line = in.readLine()) != null) {
                if (!line.isBlank()) {
                  out.write(line);
                  out.write('\n');
                  written++;
                }
              }
              staged.commit();
              return written;
            }
          });
      TypeTally tally = counts.of(file.type());
      tally.exported.addAndGet(lines);
      tally.queued.addAndGet(lines);
      progress.queued(lines);
      journal.progress(url, lines, true);
    }
    progress.fileDone();
  }

  /**
   * A copy of every staged file (links on disk) in a folder of this attempt's own: Pathling hands
   * back the same (failed) job for an identical request, so a retry must differ.
   */
  List<PathlingImportClient.StagedFile> forAttempt(
      StagingArea area, URI statusUrl, ExportManifest manifest, int attempt) {
    String linkFolder = runFolder(statusUrl) + "/import-" + attempt;
    List<PathlingImportClient.StagedFile> files = new ArrayList<>();
    try {
      for (int i = 0; i < manifest.output().size(); i++) {
        String staged = stagedPath(statusUrl, manifest, i);
        String link = linkFolder + staged.substring(staged.lastIndexOf('/'));
        area.copy(staged, link);
        files.add(new PathlingImportClient.StagedFile(manifest.output().get(i).type(), area.urlFor(link)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the staged files", e);
    }
    return files;
  }

  /** Removes what was staged for the export at {@code statusUrl}; a failure only leaves files behind. */
  void delete(BackfillPlan.Staging where, URI statusUrl) {
    try {
      areas.open(where).deleteFolder(runFolder(statusUrl));
    } catch (IOException | RuntimeException e) {
      log.warn("Could not remove the staged files of {}: {}", runFolder(statusUrl), e.getMessage());
    }
  }

  private static String stagedPath(URI statusUrl, ExportManifest manifest, int index) {
    ExportFile file = manifest.output().get(index);
    return runFolder(statusUrl) + "/" + file.type() + "." + String.format("%04d", index) + ".ndjson";
  }

  private static String runFolder(URI statusUrl) {
    return "export-" + Integer.toHexString(statusUrl.toString().hashCode());
  }
}
