package org.pathlingrelay.reliability;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small tmpfs mounted on a directory, for tests of a data dir that runs out of space. The tests
 * run as root, where file permissions do not stop writes, so only a real file system that is
 * really full (or really read-only) shows what the relay does. Needs the right to mount: without
 * it, the test is skipped with the reason.
 */
final class SmallDisk implements AutoCloseable {

  private final Path mountPoint;
  private boolean mounted;

  private SmallDisk(Path mountPoint) {
    this.mountPoint = mountPoint;
  }

  /** Mounts a tmpfs of {@code size} (e.g. {@code 4m}) on {@code mountPoint}, or skips the test. */
  static SmallDisk mount(Path mountPoint, String size) throws IOException, InterruptedException {
    Files.createDirectories(mountPoint);
    SmallDisk disk = new SmallDisk(mountPoint);
    Result result = run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mountPoint.toString());
    Assumptions.assumeTrue(result.exitCode() == 0,
        () -> "skipped: cannot mount a tmpfs here (" + result.output().strip() + ")");
    disk.mounted = true;
    return disk;
  }

  Path path() {
    return mountPoint;
  }

  /** Writes a file until the file system refuses more (ENOSPC); returns the bytes written. */
  long fill(Path file) throws IOException {
    byte[] chunk = "x".repeat(4096).getBytes(StandardCharsets.US_ASCII);
    long written = 0;
    try (OutputStream out = Files.newOutputStream(file)) {
      while (true) {
        out.write(chunk);
        out.flush();
        written += chunk.length;
      }
    } catch (IOException full) {
      if (!String.valueOf(full.getMessage()).contains("No space left")) {
        throw full;
      }
    }
    return written;
  }

  /** Free bytes left on the file system. */
  long free() throws IOException {
    return Files.getFileStore(mountPoint).getUsableSpace();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    if (mounted) {
      Result result = run("umount", mountPoint.toString());
      if (result.exitCode() != 0) {
        // Lazy, so that a test that left something open does not leave the mount behind.
        run("umount", "-l", mountPoint.toString());
      }
      mounted = false;
    }
  }

  record Result(int exitCode, String output) {}

  static Result run(String... command) throws IOException, InterruptedException {
    Process process;
    try {
      process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    } catch (IOException notInstalled) {
      return new Result(127, notInstalled.getMessage());
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      return new Result(124, command[0] + " timed out");
    }
    return new Result(process.exitValue(), output);
  }
}
