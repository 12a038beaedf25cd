package org.pathlingrelay.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** The machine the figures come from: they mean little without it. */
record Machine(int cores, long memoryBytes, String cpu, String java, String os, String workDirFileSystem) {

  static Machine current(Path workDir) {
    long memory = 0;
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      memory = os.getTotalMemorySize();
    }
    String fileSystem;
    try {
      fileSystem = Files.getFileStore(workDir).type();
    } catch (IOException e) {
      fileSystem = "unknown";
    }
    return new Machine(
        Runtime.getRuntime().availableProcessors(),
        memory,
        cpuModel().orElse(System.getProperty("os.arch")),
        "Java " + System.getProperty("java.runtime.version") + " (" + System.getProperty("java.vm.name") + ")",
        System.getProperty("os.name") + " " + System.getProperty("os.version"),
        fileSystem);
  }

  private static Optional<String> cpuModel() {
    try {
      return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
          .filter(line -> line.startsWith("model name"))
          .map(line -> line.substring(line.indexOf(':') + 1).trim())
          .findFirst();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  String describe() {
    return String.format(Locale.ROOT, "Machine: %d cores (%s), %.1f GiB memory, %s, %s; work dir on %s.",
        cores, cpu, memoryBytes / (1024.0 * 1024 * 1024), java, os, workDirFileSystem);
  }
}
