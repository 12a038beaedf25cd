package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * Part 2: a backlog of pending changes, already in the outbox, drained by the relay into the
 * modelled Pathling, in {@code batch} and {@code update} mode. The baseline is the model's own
 * ideal: one request of everything per type.
 */
final class ForwardBench {

  private static final String PART = "forward";
  private static final int PRELOAD_CHUNK = 1_000;

  private final BenchSettings.Forward settings;
  private final int rounds;
  private final int parallelTypes;
  private final SyntheaCorpus corpus;
  private final BenchRelay relays;
  private final Workspace workspace;
  private final Consumer<String> progress;

  ForwardBench(BenchSettings.Forward settings, int rounds, int parallelTypes, SyntheaCorpus corpus,
      BenchRelay relays, Workspace workspace, Consumer<String> progress) {
    this.settings = settings;
    this.rounds = rounds;
    this.parallelTypes = parallelTypes;
    this.corpus = corpus;
    this.relays = relays;
    this.workspace = workspace;
    this.progress = progress;
  }

  /** One drain. */
  private record Drain(double changesPerSecond, double requestsPerThousand, long conflicts) {}

  PartResult run() throws Exception {
    List<String> types = corpus.types(settings.types());
    List<Figure> figures = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    notes.add(String.format(Locale.ROOT,
        "forward: a backlog of %,d (batch) and %,d (update) upserts of %s, spread evenly, already in the outbox;"
            + " timed from Relay.start returning (the forwarder has started) until the model has answered the last,"
            + " after one unmeasured drain in batch mode (JIT warm-up);"
            + " modelled Pathling: %s, 500 on an overlapping write to a type",
        settings.batchChanges(), settings.updateChanges(), String.join(", ", types), settings.cost().describe()));
    notes.add("forward ideal = max(max_t(c + n_t*r), sum_t(c + n_t*r) / min(P, cores)): one request of everything"
        + " per type, types in parallel on P = --parallel-types = " + parallelTypes + " slots, sharing Pathling's "
        + settings.cost().cores() + " cores (c = commit, r = per resource, n_t = changes of type t);"
        + " ideal requests per 1,000 = types / N * 1,000");
    for (ForwardMode mode : List.of(ForwardMode.BATCH, ForwardMode.UPDATE)) {
      int changes = mode == ForwardMode.BATCH ? settings.batchChanges() : settings.updateChanges();
      if (changes < 1) {
        continue;
      }
      List<Integer> perType = perType(changes, types.size());
      double idealSeconds = ModelIdeal.drainSeconds(perType, settings.cost(), parallelTypes);
      long typesUsed = perType.stream().filter(n -> n > 0).count();
      List<Double> rate = new ArrayList<>();
      List<Double> requests = new ArrayList<>();
      long conflicts = 0;
      if (mode == ForwardMode.BATCH) {
        // A running relay is warm: the first drains of a JVM spend much of their time compiling.
        progress.accept(String.format(Locale.ROOT, "forward batch: warm-up drain of %,d changes", changes));
        conflicts += drain(mode, changes, types).conflicts();
      }
      for (int round = 1; round <= rounds; round++) {
        Drain drain = drain(mode, changes, types);
        rate.add(drain.changesPerSecond());
        requests.add(drain.requestsPerThousand());
        conflicts += drain.conflicts();
        progress.accept(String.format(Locale.ROOT, "forward %s round %d/%d: %,.0f changes/s, %.1f requests per 1,000",
            name(mode), round, rounds, drain.changesPerSecond(), drain.requestsPerThousand()));
      }
      String idealIs = "model's ideal, " + String.format(Locale.ROOT, "%.2f s", idealSeconds);
      figures.add(new Figure(PART, name(mode) + " mode: changes/s", Figure.Better.HIGHER, rate,
          List.of(changes / idealSeconds), idealIs, 1));
      figures.add(new Figure(PART, name(mode) + " mode: requests per 1,000 changes", Figure.Better.LOWER, requests,
          List.of(typesUsed * 1000.0 / changes), "one request per type", 1));
      if (conflicts > 0) {
        notes.add("forward " + name(mode) + ": the model saw " + conflicts + " overlapping write(s) (500)");
      }
    }
    return new PartResult(figures, notes);
  }

  private static String name(ForwardMode mode) {
    return mode.name().toLowerCase(Locale.ROOT);
  }

  private static List<Integer> perType(int changes, int types) {
    List<Integer> counts = new ArrayList<>();
    for (int t = 0; t < types; t++) {
      counts.add(changes / types + (t < changes % types ? 1 : 0));
    }
    return counts;
  }

  private Drain drain(ForwardMode mode, int changes, List<String> types) throws Exception {
    Path dataDir = workspace.newDir(PART);
    try {
      preload(dataDir, changes, types);
      Duration timeout = Duration.ofSeconds(120).plusMillis((long) (1000 * (mode == ForwardMode.BATCH
          ? settings.cost().secondsFor(changes) : changes * settings.cost().secondsFor(1))));
      try (ModelledPathling model = ModelledPathling.start(settings.cost(), false)) {
        double seconds;
        try (Relay relay = relays.start(dataDir, model.fhirBase(), mode)) {
          long started = System.nanoTime();
          if (!model.awaitWritten(changes, timeout)) {
            throw new IllegalStateException("the relay forwarded only " + model.stats().entries() + " of " + changes
                + " changes in " + timeout.toSeconds() + " s");
          }
          seconds = (System.nanoTime() - started) / 1e9;
          awaitAcknowledged(relay);
        }
        WriteModel.Stats stats = model.stats();
        return new Drain(changes / seconds, stats.writeRequests() * 1000.0 / changes, stats.conflicts());
      }
    } finally {
      Workspace.delete(dataDir);
    }
  }

  private void preload(Path dataDir, int changes, List<String> types) throws Exception {
    try (Outbox outbox = Outbox.open(dataDir.resolve("relay.db"), Clock.systemUTC())) {
      List<Change> chunk = new ArrayList<>(PRELOAD_CHUNK);
      for (int i = 0; i < changes; i++) {
        String type = types.get(i % types.size());
        List<SyntheaCorpus.Template> templates = corpus.ofType(type);
        SyntheaCorpus.Template template = templates.get((i / types.size()) % templates.size());
        String id = "f" + i;
        chunk.add(Change.upsert(new ResourceKey(type, id), new VersionStamp(1L, null), template.body(id)));
        if (chunk.size() == PRELOAD_CHUNK || i == changes - 1) {
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
      java.util.concurrent.TimeUnit.MILLISECONDS.sleep(20);
    }
  }
}
