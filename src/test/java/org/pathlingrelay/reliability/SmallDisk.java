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
 * A small file system mounted on a directory, for tests of a data dir that runs out of space or
 * turns read-only. The tests run as root, where file permissions do not stop writes, so only a
 * real file system that is really full (or really read-only) shows what the relay does. Needs the
 * right to mount: without it, the test is skipped with the reason.
 */
final class SmallDisk implements AutoCloseable {

  private final Path mountPoint;
  private boolean mounted;

  private SmallDisk(Path mountPoint) {
    this.mountPoint = mountPoint;
  }

  /**
   * Mounts a fresh ext4 image of {@code megabytes} with {@code errors=remount-ro} on
   * {@code mountPoint} (through a loop device), or skips the test.
   */
  static SmallDisk ext4(Path image, Path mountPoint, int megabytes)
      throws IOException, InterruptedException {
    Files.createDirectories(mountPoint);
    Result made = run("mkfs.ext4", "-q", "-F", image.toString(), megabytes + "M");
    Assumptions.assumeTrue(made.exitCode() == 0,
        () -> "skipped: cannot make an ext4 image here (" + made.output().strip() + ")");
    SmallDisk disk = new SmallDisk(mountPoint);
    Result result = disk.mountImage(image);
    Assumptions.assumeTrue(result.exitCode() == 0,
        () -> "skipped: cannot loop-mount an ext4 image here (" + result.output().strip() + ")");
    return disk;
  }

  /** Mounts the image again, after {@link #close()}, repairing what the error left (e2fsck). */
  void remount(Path image) throws IOException, InterruptedException {
    Result checked = run("e2fsck", "-f", "-y", image.toString());
    // 0: clean, 1: errors corrected (the error flag we set ourselves); anything else is real.
    if (checked.exitCode() > 1) {
      throw new IOException("e2fsck failed (" + checked.exitCode() + "): " + checked.output());
    }
    Result result = mountImage(image);
    if (result.exitCode() != 0) {
      throw new IOException("cannot mount " + image + " again: " + result.output());
    }
  }

  private Result mountImage(Path image) throws IOException, InterruptedException {
    Result result = run("mount", "-o", "loop,errors=remount-ro", image.toString(), mountPoint.toString());
    mounted = result.exitCode() == 0;
    return result;
  }

  /**
   * Makes the kernel record an ext4 error, which, under {@code errors=remount-ro}, turns the file
   * system read-only at once, even for files that are open for writing: what happens in production
   * after an I/O error. (A plain {@code mount -o remount,ro} is refused while the relay has its
   * files open for writing.) Skips the test when the kernel offers no such switch.
   */
  void failIntoReadOnly() throws IOException, InterruptedException {
    Result source = run("findmnt", "-n", "-o", "SOURCE", mountPoint.toString());
    String device = Path.of(source.output().strip()).getFileName().toString();
    Path trigger = Path.of("/sys/fs/ext4", device, "trigger_fs_error");
    Assumptions.assumeTrue(source.exitCode() == 0 && Files.isWritable(trigger),
        () -> "skipped: no " + trigger + " to turn the file system read-only");
    Files.writeString(trigger, "pathling-relay reliability test");
    try {
      Files.writeString(mountPoint.resolve("probe"), "x");
      throw new IOException("the file system did not turn read-only");
    } catch (java.nio.file.FileSystemException expected) {
      if (!String.valueOf(expected.getReason()).contains("Read-only")) {
        throw expected;
      }
    }
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
