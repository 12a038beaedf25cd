package org.pathlingrelay.backfill;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/** A folder that Pathling can read too (a shared volume), seen by Pathling at {@code url}. */
final class LocalStaging implements StagingArea {

  private final Path dir;
  private final String url;

  LocalStaging(Path dir, String url) {
    this.dir = dir;
    this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  @Override
  public StagedFile create(String path) throws IOException {
    Path target = dir.resolve(path);
    Files.createDirectories(target.getParent());
    // Written under a temporary name and renamed: Pathling only ever sees whole files.
    Path temp = target.resolveSibling(target.getFileName() + ".part");
    BufferedWriter writer = Files.newBufferedWriter(temp, StandardCharsets.UTF_8);
    return new StagedFile() {
      private boolean committed;

      @Override
      public Writer writer() {
        return writer;
      }

      @Override
      public void commit() throws IOException {
        writer.close();
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        committed = true;
      }

      @Override
      public void close() throws IOException {
        if (!committed) {
          writer.close();
          Files.deleteIfExists(temp);
        }
      }
    };
  }

  @Override
  public void copy(String from, String to) throws IOException {
    Path source = dir.resolve(from);
    Path link = dir.resolve(to);
    Files.createDirectories(link.getParent());
    if (Files.exists(link)) {
      if (Files.size(link) == Files.size(source)) {
        return;
      }
      // A run killed in the middle of the copy below left this file cut short under its final
      // name; Pathling would import it as it is.
      Files.delete(link);
    }
    try {
      Files.createLink(link, source);
    } catch (UnsupportedOperationException | IOException linksUnsupported) {
      // Some file systems (and volumes shared with containers) have no hard links: copy instead.
      Files.copy(source, link);
    }
  }

  @Override
  public String urlFor(String path) {
    return url + "/" + path;
  }

  @Override
  public void deleteFolder(String folder) throws IOException {
    Path root = dir.resolve(folder);
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
