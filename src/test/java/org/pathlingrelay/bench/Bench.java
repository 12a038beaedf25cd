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
            + " linger %d ms (at most %d ms in a burst), parallel-types %d (serve's defaults unless set)",
        settings.rounds(), settings.backfill().rounds(), settings.relay().batchMax(), settings.relay().linger().toMillis(),
        settings.relay().lingerMax().toMillis(), settings.relay().parallelTypes()));
    try (Workspace workspace = new Workspace(settings.workDir()); QuietLogs quiet = QuietLogs.duringBench();
        RealPathling real = settings.real().isPresent()
            ? RealPathling.start(settings.real().get().pathlingUrl(), progress) : null) {
      try {
        runParts(corpus, relays, workspace, real, figures, notes, failed);
      } finally {
        if (real != null) {
          cleanUp(real, notes, failed);
        }
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    notes.add(String.format(Locale.ROOT, "the bench took %.0f s", seconds));
    return new Outcome(new ResultTable(machine.describe(), figures, notes), failed, seconds);
  }

  private void runParts(SyntheaCorpus corpus, BenchRelay relays, Workspace workspace, RealPathling real,
      List<Figure> figures, List<String> notes, List<String> failed) {
    for (String name : BenchSettings.ALL_PARTS) {
      if (!settings.parts().contains(name)) {
        continue;
      }
      progress.accept("== " + name);
      long partStarted = System.nanoTime();
      try {
        PartResult result = part(name, corpus, relays, workspace, real).run();
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

  /** Deletes what the run wrote into the real Pathling; a failure is reported with the prefix to clean up by hand. */
  private void cleanUp(RealPathling real, List<String> notes, List<String> failed) {
    progress.accept("== cleanup");
    try {
      notes.add(real.cleanUp(settings.relay().parallelTypes()));
    } catch (Exception e) {
      failed.add("cleanup");
      String hint = "**cleanup failed**: " + e.getMessage() + "; resources with ids starting with " + real.prefix()
          + " may be left: bench --pathling-url " + real.url() + " --pathling-cleanup " + real.prefix();
      notes.add(hint);
      progress.accept(hint);
    }
  }

  private Part part(String name, SyntheaCorpus corpus, BenchRelay relays, Workspace workspace, RealPathling real) {
    int parallelTypes = settings.relay().parallelTypes();
    if (real != null) {
      return switch (name) {
        case "forward" -> new RealForwardBench(settings.forward(), settings.real().orElseThrow().batchSizes(),
            settings.rounds(), parallelTypes, corpus, relays, workspace, real, progress)::run;
        case "lag" -> new RealLagBench(settings.lag(), settings.relay(), settings.rounds(), corpus, relays, workspace,
            real, progress)::run;
        default -> throw new IllegalArgumentException(name + " does not run against a real Pathling");
      };
    }
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
