package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Runs the selected parts in order (ingest, forward, lag, backfill) and puts their figures in one
 * table. A part that fails is reported in the notes; the others still run.
 */
public final class Bench {

  /** The table and the parts that failed. */
  public record Outcome(ResultTable table, List<String> failedParts, double seconds) {}

  /** One part, ready to run. */
  @FunctionalInterface
  private interface Part {
    PartResult run() throws Exception;
  }

  private final BenchSettings settings;
  private final Consumer<String> progress;

  public Bench(BenchSettings settings, Consumer<String> progress) {
    this.settings = settings;
    this.progress = progress;
  }

  public Outcome run() throws Exception {
    long started = System.nanoTime();
    Machine machine = Machine.current(settings.workDir().toAbsolutePath());
    SyntheaCorpus corpus = SyntheaCorpus.load(settings.corpus());
    BenchRelay relays = new BenchRelay(settings.relay());
    List<Figure> figures = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    notes.add(String.format(Locale.ROOT,
        "medians of %d round(s) (backfill loads: %d); ratio = median relay / median baseline; relay under test: batch-max %d,"
            + " linger %d ms, parallel-types %d (serve's defaults unless set)",
        settings.rounds(), settings.backfill().rounds(), settings.relay().batchMax(), settings.relay().linger().toMillis(),
        settings.relay().parallelTypes()));
    try (Workspace workspace = new Workspace(settings.workDir()); QuietLogs quiet = QuietLogs.duringBench()) {
      for (String name : BenchSettings.ALL_PARTS) {
        if (!settings.parts().contains(name)) {
          continue;
        }
        progress.accept("== " + name);
        long partStarted = System.nanoTime();
        try {
          PartResult result = part(name, corpus, relays, workspace).run();
          figures.addAll(result.figures());
          notes.addAll(result.notes());
        } catch (Exception e) {
          failed.add(name);
          notes.add("**" + name + " failed**: " + e.getMessage());
          progress.accept(name + " failed: " + e);
        }
        progress.accept(String.format(Locale.ROOT, "%s took %.0f s", name, (System.nanoTime() - partStarted) / 1e9));
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    notes.add(String.format(Locale.ROOT, "the bench took %.0f s", seconds));
    return new Outcome(new ResultTable(machine.describe(), figures, notes), failed, seconds);
  }

  private Part part(String name, SyntheaCorpus corpus, BenchRelay relays, Workspace workspace) {
    int parallelTypes = settings.relay().parallelTypes();
    return switch (name) {
      case "ingest" -> new IngestBench(settings.ingest(), settings.rounds(), corpus, relays, settings.forward().cost(),
          workspace, progress)::run;
      case "forward" -> new ForwardBench(settings.forward(), settings.rounds(), parallelTypes, corpus, relays, workspace,
          progress)::run;
      case "lag" -> new LagBench(settings.lag(), settings.relay(), settings.rounds(), corpus, relays, workspace,
          progress)::run;
      case "backfill" -> new BackfillBench(settings.backfill(), settings.rounds(), settings.relay(), corpus, workspace,
          progress)::run;
      default -> throw new IllegalArgumentException("unknown part " + name);
    };
  }
}
