package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * Part 2 against a real Pathling ({@code --pathling-url}): a backlog in the outbox drained by the
 * relay, beside Pathling's own best batch throughput, measured in the same round by writing the same
 * resources directly in batches of each size asked for (types in parallel, one request per type in
 * flight). Every round writes the same ids again (an overwrite, not new rows), so cleanup stays
 * small.
 */
final class RealForwardBench {

  private static final String PART = "forward";
  private static final int PRELOAD_CHUNK = 1_000;

  private final BenchSettings.Forward settings;
  private final List<Integer> batchSizes;
  private final int rounds;
  private final int parallelTypes;
  private final SyntheaCorpus corpus;
  private final BenchRelay relays;
  private final Workspace workspace;
  private final RealPathling pathling;
  private final Consumer<String> progress;

  RealForwardBench(BenchSettings.Forward settings, List<Integer> batchSizes, int rounds, int parallelTypes,
      SyntheaCorpus corpus, BenchRelay relays, Workspace workspace, RealPathling pathling, Consumer<String> progress) {
    this.settings = settings;
    this.batchSizes = batchSizes;
    this.rounds = rounds;
    this.parallelTypes = parallelTypes;
    this.corpus = corpus;
    this.relays = relays;
    this.workspace = workspace;
    this.pathling = pathling;
    this.progress = progress;
  }

  /** One timed write of a set of resources. */
  private record Timed(double changesPerSecond, double requestsPerThousand, long failedWrites) {}

  PartResult run() throws Exception {
    List<String> types = corpus.types(settings.types());
    List<PathlingDirect.Write> resources = resources(types, Math.max(settings.batchChanges(), settings.updateChanges()));
    List<PathlingDirect.Write> backlog = resources.subList(0, settings.batchChanges());
    int perType = (backlog.size() + types.size() - 1) / types.size();
    List<Integer> sizes = batchSizes.stream().map(size -> Math.min(size, Math.max(1, perType))).distinct().toList();
    List<Double> best = new ArrayList<>();
    List<Double> bestRequests = new ArrayList<>();
    Map<Integer, List<Double>> bySize = new TreeMap<>();
    Map<ForwardMode, List<Timed>> relay = new LinkedHashMap<>();
    // A type's first write creates its table and Pathling's first requests warm its JVM: neither is a drain's cost.
    progress.accept(String.format(Locale.ROOT, "forward: warm-up, %,d resources written directly (not measured)",
        backlog.size()));
    direct(backlog, sizes.get(sizes.size() - 1));
    for (int round = 1; round <= rounds; round++) {
      Timed fastest = null;
      for (int size : sizes) {
        Timed direct = direct(backlog, size);
        bySize.computeIfAbsent(size, s -> new ArrayList<>()).add(direct.changesPerSecond());
        progress.accept(String.format(Locale.ROOT, "forward round %d/%d: Pathling direct, batches of %,d: %,.1f changes/s",
            round, rounds, size, direct.changesPerSecond()));
        fastest = fastest == null || direct.changesPerSecond() > fastest.changesPerSecond() ? direct : fastest;
      }
      best.add(fastest.changesPerSecond());
      bestRequests.add(fastest.requestsPerThousand());
      for (ForwardMode mode : List.of(ForwardMode.BATCH, ForwardMode.UPDATE)) {
        List<PathlingDirect.Write> changes = mode == ForwardMode.BATCH ? backlog
            : resources.subList(0, settings.updateChanges());
        if (changes.isEmpty()) {
          continue;
        }
        Timed drained = drain(mode, changes);
        relay.computeIfAbsent(mode, m -> new ArrayList<>()).add(drained);
        progress.accept(String.format(Locale.ROOT, "forward %s round %d/%d: relay %,.1f changes/s, %.1f requests per 1,000",
            name(mode), round, rounds, drained.changesPerSecond(), drained.requestsPerThousand()));
      }
    }
    String bestIs = "Pathling's best direct batches (of " + sizes.stream().map(String::valueOf).reduce((a, b) -> a + ", " + b)
        .orElseThrow() + "), measured";
    List<Figure> figures = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    notes.add(String.format(Locale.ROOT,
        "forward (real Pathling %s): a backlog of %,d (batch) and %,d (update) upserts of %s, spread evenly, already in"
            + " the outbox; timed from Relay.start returning until Pathling answered the last (through a recording"
            + " proxy, as the baseline); after one unmeasured direct write of the backlog (creates the types' tables,"
            + " warms Pathling), no warm-up drain of the relay (Pathling's seconds a request dwarf its JIT);"
            + " the baseline writes the same resources directly as batch Bundles, types in parallel on %d slots, one"
            + " request per type in flight, each batch size in turn; every round writes the same ids again",
        pathling.url(), backlog.size(), settings.updateChanges(), String.join(", ", types), parallelTypes));
    StringBuilder perSize = new StringBuilder("forward: Pathling direct, median changes/s by batch size:");
    bySize.forEach((size, rates) -> perSize.append(String.format(Locale.ROOT, " %,d: %,.1f;", size,
        Percentiles.median(rates))));
    notes.add(perSize.toString());
    for (Map.Entry<ForwardMode, List<Timed>> entry : relay.entrySet()) {
      String mode = name(entry.getKey());
      List<Timed> timed = entry.getValue();
      figures.add(new Figure(PART, mode + " mode: changes/s", Figure.Better.HIGHER,
          timed.stream().map(Timed::changesPerSecond).toList(), best, bestIs, 1));
      figures.add(new Figure(PART, mode + " mode: requests per 1,000 changes", Figure.Better.LOWER,
          timed.stream().map(Timed::requestsPerThousand).toList(), bestRequests, "the best direct batches' requests", 1));
      long failed = timed.stream().mapToLong(Timed::failedWrites).sum();
      if (failed > 0) {
        notes.add("forward " + mode + ": Pathling refused " + failed + " of the relay's writes (retried)");
      }
    }
    List<Timed> batch = relay.get(ForwardMode.BATCH);
    if (batch != null) {
      double ratio = Percentiles.median(batch.stream().map(Timed::changesPerSecond).toList()) / Percentiles.median(best);
      notes.add(String.format(Locale.ROOT, "forward target (issue 18): relay live throughput at least 0.9 x Pathling's"
          + " own best batch throughput: %.2f, %s", ratio, ratio >= 0.9 ? "met" : "not met"));
    }
    return new PartResult(figures, notes);
  }

  private List<PathlingDirect.Write> resources(List<String> types, int count) {
    List<PathlingDirect.Write> resources = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String type = types.get(i % types.size());
      List<SyntheaCorpus.Template> templates = corpus.ofType(type);
      String id = pathling.prefix() + "f" + i;
      resources.add(PathlingDirect.Write.put(type, id, templates.get((i / types.size()) % templates.size()).body(id)));
    }
    return resources;
  }

  /** Writes {@code resources} directly in batches of {@code size}, types in parallel. */
  private Timed direct(List<PathlingDirect.Write> resources, int size) throws Exception {
    Map<String, List<PathlingDirect.Write>> byType = new LinkedHashMap<>();
    resources.forEach(write -> byType.computeIfAbsent(write.key().substring(0, write.key().indexOf('/')),
        type -> new ArrayList<>()).add(write));
    PathlingDirect direct = pathling.direct();
    RecordingProxy.Recording recording = pathling.record();
    ExecutorService slots = Executors.newFixedThreadPool(Math.min(parallelTypes, byType.size()));
    long started = System.nanoTime();
    try {
      List<Future<?>> done = new ArrayList<>();
      for (List<PathlingDirect.Write> ofType : byType.values()) {
        done.add(slots.submit(() -> {
          for (int from = 0; from < ofType.size(); from += size) {
            direct.batch(ofType.subList(from, Math.min(ofType.size(), from + size)));
          }
          return null;
        }));
      }
      for (Future<?> future : done) {
        future.get();
      }
    } finally {
      slots.shutdownNow();
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    RecordingProxy.Stats stats = recording.stats();
    return new Timed(resources.size() / seconds, stats.writeRequests() * 1000.0 / resources.size(), stats.failedWrites());
  }

  private Timed drain(ForwardMode mode, List<PathlingDirect.Write> changes) throws Exception {
    Path dataDir = workspace.newDir(PART);
    try {
      preload(dataDir, changes);
      // generous: a real Pathling takes seconds a request, an update-mode drain one request a change
      Duration timeout = Duration.ofMinutes(10).plusSeconds(mode == ForwardMode.UPDATE ? 10L * changes.size() : 0);
      RecordingProxy.Recording recording = pathling.record();
      double seconds;
      try (Relay relay = relays.start(dataDir, pathling.fhirBase(), mode)) {
        long started = System.nanoTime();
        if (!recording.awaitEntries(changes.size(), timeout)) {
          throw new IllegalStateException("the relay forwarded only " + recording.stats().entries() + " of "
              + changes.size() + " changes in " + timeout.toSeconds() + " s");
        }
        seconds = (System.nanoTime() - started) / 1e9;
        awaitAcknowledged(relay);
      }
      RecordingProxy.Stats stats = recording.stats();
      return new Timed(changes.size() / seconds, stats.writeRequests() * 1000.0 / changes.size(), stats.failedWrites());
    } finally {
      Workspace.delete(dataDir);
    }
  }

  private static void preload(Path dataDir, List<PathlingDirect.Write> changes) throws Exception {
    try (Outbox outbox = Outbox.open(dataDir.resolve("relay.db"), Clock.systemUTC())) {
      List<Change> chunk = new ArrayList<>(PRELOAD_CHUNK);
      for (int i = 0; i < changes.size(); i++) {
        PathlingDirect.Write write = changes.get(i);
        int slash = write.key().indexOf('/');
        chunk.add(Change.upsert(new ResourceKey(write.key().substring(0, slash), write.key().substring(slash + 1)),
            new VersionStamp(1L, null), write.body()));
        if (chunk.size() == PRELOAD_CHUNK || i == changes.size() - 1) {
          outbox.append(chunk).join();
          chunk.clear();
        }
      }
    }
  }

  /** The relay removes rows once Pathling confirmed them; wait for that before closing. */
  private static void awaitAcknowledged(Relay relay) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (relay.outbox().stats().pending() > 0 && System.nanoTime() < end) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  private static String name(ForwardMode mode) {
    return mode.name().toLowerCase(Locale.ROOT);
  }
}
