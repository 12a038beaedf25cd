package org.pathlingrelay.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** A scratch folder under the work dir for one bench run; removed, with everything in it, at the end. */
final class Workspace implements AutoCloseable {

  private final Path root;
  private int counter;

  Workspace(Path workDir) throws IOException {
    Files.createDirectories(workDir);
    this.root = Files.createTempDirectory(workDir, "pathling-relay-bench-");
  }

  /** A new, empty folder. */
  synchronized Path newDir(String name) {
    Path dir = root.resolve(name + "-" + (++counter));
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  Path root() {
    return root;
  }

  static void delete(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException e) {
      // leftovers in the temp dir are harmless
    }
  }

  @Override
  public void close() {
    delete(root);
  }
}
