package org.pathlingrelay.bench;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Runs the relay, or one of the bench's own mains, in a JVM of its own (so that its heap limit and
 * its peak RSS are its own): {@code java <jvm args> -cp <class path> <main> ...}. The relay gets the
 * bench's class path without the bench's own classes (the test tree), so it runs the product's
 * classes and its {@code logback.xml}, as the packaged jar would. Its output goes to a file; its
 * peak RSS is read from {@code /proc/<pid>/status} (VmHWM) and its CPU time from
 * {@code /proc/<pid>/stat} while it runs.
 */
final class ChildJvm {

  static final String RELAY_MAIN = "org.pathlingrelay.cli.Main";
  private static final long RSS_SAMPLE_MS = 100;
  /** USER_HZ: what Linux counts /proc/<pid>/stat times in, on every architecture Java runs on. */
  private static final int CLOCK_TICKS_PER_SECOND = 100;

  /** How the child ended. */
  record Result(int exitCode, String output, OptionalLong peakRssKiB, double wallSeconds, OptionalDouble cpuSeconds) {
    String tail() {
      return output.length() > 3_000 ? "..." + output.substring(output.length() - 3_000) : output;
    }
  }

  private final List<String> jvmArgs;

  ChildJvm(List<String> jvmArgs) {
    this.jvmArgs = List.copyOf(jvmArgs);
  }

  /** Runs {@code pathling-relay <args>}. */
  Result runRelay(List<String> args, Path log, Duration timeout) throws IOException, InterruptedException {
    return run(RELAY_MAIN, args, log, timeout);
  }

  Result run(String mainClass, List<String> args, Path log, Duration timeout) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmArgs);
    command.add("-cp");
    command.add(mainClass.equals(RELAY_MAIN) ? productClassPath() : System.getProperty("java.class.path"));
    command.add(mainClass);
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    Map<String, String> environment = builder.environment();
    // The relay reads its options from RELAY_*, PATHLING_* and SOURCE_* variables: the bench says what it means.
    environment.keySet().removeIf(name -> name.startsWith("RELAY_") || name.startsWith("PATHLING_")
        || name.startsWith("SOURCE_") || name.startsWith("SENTRY_"));
    long started = System.nanoTime();
    Process process = builder.start();
    long peak = -1;
    long cpuTicks = -1;
    try {
      Path status = Path.of("/proc", String.valueOf(process.pid()), "status");
      Path stat = Path.of("/proc", String.valueOf(process.pid()), "stat");
      long deadline = started + timeout.toNanos();
      while (!process.waitFor(RSS_SAMPLE_MS, TimeUnit.MILLISECONDS)) {
        peak = Math.max(peak, highWaterMarkKiB(status));
        cpuTicks = Math.max(cpuTicks, cpuTicks(stat));
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the child JVM (" + String.join(" ", args) + ") ran past " + timeout.toMinutes()
              + " min; its log: " + log);
        }
      }
    } finally {
      if (process.isAlive()) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
    double wall = (System.nanoTime() - started) / 1e9;
    String output = Files.readString(log, StandardCharsets.UTF_8);
    return new Result(process.exitValue(), output, peak > 0 ? OptionalLong.of(peak) : OptionalLong.empty(), wall,
        cpuTicks > 0 ? OptionalDouble.of(cpuTicks / (double) CLOCK_TICKS_PER_SECOND) : OptionalDouble.empty());
  }

  /** VmHWM, the peak resident set so far, in KiB; -1 where there is no /proc. */
  private static long highWaterMarkKiB(Path status) {
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // the process has just ended, or this is not Linux
    }
    return -1;
  }

  /**
   * utime + stime of the process so far, in clock ticks; -1 where there is no /proc. Sampled
   * every {@value #RSS_SAMPLE_MS} ms, so the last 100 ms of the child are missed: seconds of CPU
   * are exact to about a tenth of a second.
   */
  private static long cpuTicks(Path stat) {
    try {
      String line = Files.readString(stat);
      // The command name (field 2) may hold spaces; the fields after it start past its ')'.
      String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** This JVM's class path without the folder or jar the bench's own classes came from. */
  static String productClassPath() {
    String classPath = System.getProperty("java.class.path");
    Path bench = benchLocation();
    if (bench == null) {
      return classPath;
    }
    return Arrays.stream(classPath.split(File.pathSeparator))
        .filter(entry -> !entry.isEmpty() && !Path.of(entry).toAbsolutePath().normalize().equals(bench))
        .collect(Collectors.joining(File.pathSeparator));
  }

  /** Where this class was loaded from, or null when that cannot be told. */
  private static Path benchLocation() {
    try {
      CodeSource source = ChildJvm.class.getProtectionDomain().getCodeSource();
      return source == null ? null : Path.of(source.getLocation().toURI()).toAbsolutePath().normalize();
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }
}
