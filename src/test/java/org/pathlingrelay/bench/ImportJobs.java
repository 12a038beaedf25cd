package org.pathlingrelay.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Pathling's {@code $import} jobs, as the model runs them: one at a time (Pathling's import lock),
 * types one after another, each reading its {@code file://} files (counting the lines) and then
 * paying the model's cost for them. A type another write holds fails the job with 500.
 */
final class ImportJobs implements AutoCloseable {

  /** One {@code input} of the request: a type and a file URL. */
  record Input(String type, String url) {}

  /** A job; read by the polls while the runner thread works on it. */
  static final class Job {
    final String id = UUID.randomUUID().toString();
    volatile boolean done;
    volatile String failure;
    /** The first poll always answers 202, as a real import is never done at once. */
    volatile boolean polled;
  }

  private final WriteModel writes;
  private final Map<String, Job> jobs = new ConcurrentHashMap<>();
  private final ExecutorService runner = Executors.newSingleThreadExecutor(runnable -> {
    Thread thread = new Thread(runnable, "modelled-pathling-import");
    thread.setDaemon(true);
    return thread;
  });

  ImportJobs(WriteModel writes) {
    this.writes = writes;
  }

  Job start(List<Input> inputs) {
    Job job = new Job();
    jobs.put(job.id, job);
    runner.execute(() -> run(job, inputs));
    return job;
  }

  Optional<Job> find(String id) {
    return id == null ? Optional.empty() : Optional.ofNullable(jobs.get(id));
  }

  void forget(String id) {
    if (id != null) {
      jobs.remove(id);
    }
  }

  private void run(Job job, List<Input> inputs) {
    try {
      Map<String, Long> linesByType = new LinkedHashMap<>();
      for (Input input : inputs) {
        // As Pathling's NDJSON source: only files ending in .ndjson are read.
        if (input.url().endsWith(".ndjson")) {
          linesByType.merge(input.type(), countLines(Path.of(URI.create(input.url()))), Long::sum);
        }
      }
      for (Map.Entry<String, Long> type : linesByType.entrySet()) {
        if (!writes.importType(type.getKey(), type.getValue())) {
          job.failure = "Conflicting write to " + type.getKey() + " (a concurrent write holds it)";
          return;
        }
      }
    } catch (IOException | RuntimeException e) {
      job.failure = "Import failed: " + e.getMessage();
    } finally {
      job.done = true;
    }
  }

  /** Lines with content, read in bulk. */
  static long countLines(Path file) throws IOException {
    long lines = 0;
    boolean content = false;
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      int read;
      while ((read = in.read(buffer)) > 0) {
        for (int i = 0; i < read; i++) {
          byte b = buffer[i];
          if (b == '\n') {
            if (content) {
              lines++;
            }
            content = false;
          } else if (b != ' ' && b != '\r' && b != '\t') {
            content = true;
          }
        }
      }
    }
    return content ? lines + 1 : lines;
  }

  @Override
  public void close() {
    runner.shutdownNow();
  }
}
