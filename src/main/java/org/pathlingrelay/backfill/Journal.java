package org.pathlingrelay.backfill;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.pathlingrelay.source.ExportManifest;

/**
 * What a backfill has done so far, kept in the data dir so that a killed run resumes: the export's
 * status URL, its manifest, how many lines of each file are safely in the outbox, and the
 * watermark of the last complete run. Every change is written to a new file and renamed over the
 * old one, so a crash leaves either the old state or the new.
 */
final class Journal {

  /** The state of the run in progress, if any. */
  record Run(
      String fingerprint,
      String statusUrl,
      ExportManifest manifest,
      Map<String, Long> linesDone,
      Set<String> filesDone,
      Long queuedUpToSeq,
      String importJobUrl,
      Integer importAttempt,
      Instant kickedOffAt) {}

  record State(Optional<Run> run, Optional<Instant> watermark) {}

  private final Path file;
  private final ObjectMapper json =
      new ObjectMapper()
          .registerModule(new Jdk8Module())
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
  private State state;

  Journal(Path dataDir) {
    this.file = dataDir.resolve("backfill.json");
    this.state = read();
  }

  private State read() {
    if (!Files.isRegularFile(file)) {
      return new State(Optional.empty(), Optional.empty());
    }
    try {
      return json.readValue(file.toFile(), State.class);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the backfill journal " + file, e);
    }
  }

  /** Reads the file again: another process (a backfill beside a serve) may have completed a run. */
  synchronized void reload() {
    state = read();
  }

  synchronized Optional<Run> run() {
    return state.run();
  }

  synchronized Optional<Instant> watermark() {
    return state.watermark();
  }

  synchronized void start(String fingerprint, String statusUrl) {
    start(fingerprint, statusUrl, null);
  }

  /** @param kickedOffAt just before the job was asked for: what it loads is at least as new */
  synchronized void start(String fingerprint, String statusUrl, Instant kickedOffAt) {
    write(new State(Optional.of(new Run(fingerprint, statusUrl, null, Map.of(), Set.of(), null, null, null, kickedOffAt)), state.watermark()));
  }

  synchronized void manifest(ExportManifest manifest) {
    Run run = state.run().orElseThrow();
    write(new State(Optional.of(new Run(run.fingerprint(), run.statusUrl(), manifest, run.linesDone(), run.filesDone(), null, null, null, run.kickedOffAt())), state.watermark()));
  }

  synchronized long linesDone(String url) {
    return state.run().map(r -> r.linesDone().getOrDefault(url, 0L)).orElse(0L);
  }

  synchronized boolean fileDone(String url) {
    return state.run().map(r -> r.filesDone().contains(url)).orElse(false);
  }

  synchronized void progress(String url, long lines, boolean complete) {
    Run run = state.run().orElseThrow();
    Map<String, Long> lines2 = new HashMap<>(run.linesDone());
    lines2.put(url, lines);
    Set<String> done = new HashSet<>(run.filesDone());
    if (complete) {
      done.add(url);
    }
    write(new State(Optional.of(new Run(run.fingerprint(), run.statusUrl(), run.manifest(), lines2, done, run.queuedUpToSeq(), run.importJobUrl(), run.importAttempt(), run.kickedOffAt())), state.watermark()));
  }

  synchronized void queued(long upToSeq) {
    Run run = state.run().orElseThrow();
    write(new State(Optional.of(new Run(run.fingerprint(), run.statusUrl(), run.manifest(), run.linesDone(), run.filesDone(), upToSeq, run.importJobUrl(), run.importAttempt(), run.kickedOffAt())), state.watermark()));
  }

  synchronized void importStarted(String jobUrl, int attempt) {
    Run run = state.run().orElseThrow();
    write(new State(Optional.of(new Run(run.fingerprint(), run.statusUrl(), run.manifest(), run.linesDone(),
        run.filesDone(), run.queuedUpToSeq(), jobUrl, attempt, run.kickedOffAt())), state.watermark()));
  }

  /** The run is complete: forget it, and move the watermark to the export's transaction time. */
  synchronized void complete(Optional<Instant> newWatermark) {
    write(new State(Optional.empty(), newWatermark.or(state::watermark)));
  }

  synchronized void abandon() {
    write(new State(Optional.empty(), state.watermark()));
  }

  private void write(State next) {
    // A stop (interrupt) that lands during the write would close the channel mid-way
    // (ClosedByInterruptException) and lose the journal; it is kept for the next blocking call.
    boolean interrupted = Thread.interrupted();
    try {
      Files.createDirectories(file.getParent());
      Path temp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(temp, json.writeValueAsBytes(next));
      // fsync the new file before it replaces the old one
      try (var channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      state = next;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the backfill journal " + file, e);
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
