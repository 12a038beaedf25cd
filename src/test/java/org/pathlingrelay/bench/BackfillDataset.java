package org.pathlingrelay.bench;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The export the backfill part loads: the corpus repeated with fresh ids until it holds the
 * requested number of resources, written once to disk as NDJSON files of at most {@code
 * fileLines} resources each (HAPI writes 1,000), one type per file.
 */
public record BackfillDataset(List<ExportFile> files, long resources, long bytes) {

  /** One file of the export. */
  public record ExportFile(String type, Path path) {}

  public BackfillDataset {
    files = List.copyOf(files);
  }

  public static BackfillDataset generate(SyntheaCorpus corpus, int resources, int fileLines, Path dir)
      throws IOException {
    if (fileLines < 1) {
      throw new IllegalArgumentException("--backfill-file-lines must be at least 1");
    }
    Files.createDirectories(dir);
    Map<String, Open> open = new HashMap<>();
    List<ExportFile> files = new ArrayList<>();
    long bytes = 0;
    try {
      List<SyntheaCorpus.Template> templates = corpus.templates();
      for (int i = 0; i < resources; i++) {
        SyntheaCorpus.Template template = templates.get(i % templates.size());
        Open file = open.get(template.type());
        if (file == null || file.lines == fileLines) {
          if (file != null) {
            file.writer.close();
          }
          Path path = dir.resolve(String.format(Locale.ROOT, "%s.%05d.ndjson", template.type(), files.size()));
          files.add(new ExportFile(template.type(), path));
          file = new Open(Files.newBufferedWriter(path, StandardCharsets.UTF_8));
          open.put(template.type(), file);
        }
        String line = template.body("bf" + i);
        file.writer.write(line);
        file.writer.write('\n');
        file.lines++;
        bytes += line.length() + 1;
      }
    } finally {
      for (Open file : open.values()) {
        file.writer.close();
      }
    }
    return new BackfillDataset(files, resources, bytes);
  }

  private static final class Open {
    final BufferedWriter writer;
    int lines;

    Open(BufferedWriter writer) {
      this.writer = writer;
    }
  }
}
