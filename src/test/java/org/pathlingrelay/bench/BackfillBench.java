package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Part 4: a backfill of a large export from the bulk-export model into the modelled Pathling, run
 * as {@code pathling-relay backfill} in a JVM of its own with a heap limit, through the outbox
 * ({@code --load relay}) and through Pathling's {@code $import} ({@code --load import}). The
 * baseline is HAPI's parser reading the same files in a JVM with the same limit.
 */
final class BackfillBench {

  private static final String PART = "backfill";
  /** The relay's own report: "...; 12.3 s (40650 resources/s)". */
  private static final Pattern REPORT = Pattern.compile("; ([0-9.,]+) s \\(([0-9,]+) resources/s\\)");
  private static final Pattern PARSED = Pattern.compile("parsed (\\d+) resources in (\\d+) ns");
  private static final Duration CHILD_TIMEOUT = Duration.ofMinutes(60);

  private final BenchSettings.Backfill settings;
  private final int ceilingRounds;
  private final BenchSettings.RelayUnderTest relay;
  private final SyntheaCorpus corpus;
  private final Workspace workspace;
  private final Consumer<String> progress;

  BackfillBench(BenchSettings.Backfill settings, int ceilingRounds, BenchSettings.RelayUnderTest relay,
      SyntheaCorpus corpus, Workspace workspace, Consumer<String> progress) {
    this.settings = settings;
    this.ceilingRounds = ceilingRounds;
    this.relay = relay;
    this.corpus = corpus;
    this.workspace = workspace;
    this.progress = progress;
  }

  /** The child JVM of one load; {@code {load}} in an extra argument becomes relay, import or ceiling. */
  private ChildJvm child(String load) {
    List<String> jvmArgs = new ArrayList<>();
    jvmArgs.add("-Xmx" + settings.heap());
    for (String arg : settings.jvmArgs()) {
      jvmArgs.add(arg.replace("{load}", load));
    }
    return new ChildJvm(jvmArgs);
  }

  /**
   * One child run: resources a second, its peak RSS in MiB (NaN where unknown), the CPU the
   * bench's own JVM (the export model and the modelled Pathling) spent meanwhile, and the child's
   * own CPU seconds (NaN where unknown), which the machine's noise moves far less than rates.
   */
  private record Load(double resourcesPerSecond, double peakRssMiB, double wallSeconds, double modelCpuSeconds, double cpuSeconds) {}

  PartResult run() throws Exception {
    progress.accept(String.format(Locale.ROOT, "backfill: writing an export of %,d resources", settings.resources()));
    Path exportDir = workspace.newDir("export");
    BackfillDataset dataset = BackfillDataset.generate(corpus, settings.resources(), settings.fileLines(), exportDir);
    List<Double> relayRate = new ArrayList<>();
    List<Double> relayRss = new ArrayList<>();
    List<Double> importRate = new ArrayList<>();
    List<Double> importRss = new ArrayList<>();
    List<Double> ceilingRate = new ArrayList<>();
    List<Double> ceilingRss = new ArrayList<>();
    List<Double> relayWall = new ArrayList<>();
    List<Double> importWall = new ArrayList<>();
    List<Double> relayModelCpu = new ArrayList<>();
    List<Double> relayCpu = new ArrayList<>();
    List<Double> importCpu = new ArrayList<>();
    List<Double> ceilingCpu = new ArrayList<>();
    // Loads and ceiling rounds take turns: on this kind of shared machine the same ceiling ran at
    // 40,000/s in one run and 45,000/s in another, and runs minutes apart carried that drift.
    try (BulkExportModel source = BulkExportModel.start(dataset.files())) {
      for (int round = 1; round <= Math.max(settings.rounds(), ceilingRounds); round++) {
        if (round <= ceilingRounds) {
          Load ceiling = parseCeiling(dataset, exportDir);
          ceilingRate.add(ceiling.resourcesPerSecond());
          ceilingRss.add(ceiling.peakRssMiB());
          ceilingCpu.add(ceiling.cpuSeconds());
          progress.accept(String.format(Locale.ROOT, "backfill parse ceiling round %d/%d: %,.0f resources/s",
              round, ceilingRounds, ceiling.resourcesPerSecond()));
        }
        if (round > settings.rounds()) {
          continue;
        }
        Load viaOutbox = load(source, dataset, false);
        relayRate.add(viaOutbox.resourcesPerSecond());
        relayRss.add(viaOutbox.peakRssMiB());
        relayWall.add(viaOutbox.wallSeconds());
        relayModelCpu.add(viaOutbox.modelCpuSeconds());
        relayCpu.add(viaOutbox.cpuSeconds());
        progress.accept(String.format(Locale.ROOT, "backfill --load relay round %d/%d: %,.0f resources/s, peak RSS %.0f MiB",
            round, settings.rounds(), viaOutbox.resourcesPerSecond(), viaOutbox.peakRssMiB()));
        Load viaImport = load(source, dataset, true);
        importRate.add(viaImport.resourcesPerSecond());
        importRss.add(viaImport.peakRssMiB());
        importWall.add(viaImport.wallSeconds());
        importCpu.add(viaImport.cpuSeconds());
        progress.accept(String.format(Locale.ROOT, "backfill --load import round %d/%d: %,.0f resources/s, peak RSS %.0f MiB",
            round, settings.rounds(), viaImport.resourcesPerSecond(), viaImport.peakRssMiB()));
      }
    }
    Workspace.delete(exportDir);
    String ceilingIs = "HAPI JSON parser alone, 1 thread";
    String rssIs = "the parse ceiling's JVM";
    List<Figure> figures = List.of(
        new Figure(PART, "--load relay: resources/s", Figure.Better.HIGHER, relayRate, ceilingRate, ceilingIs, 0),
        new Figure(PART, "--load relay: peak RSS, MiB", Figure.Better.LOWER, relayRss, ceilingRss, rssIs, 0),
        new Figure(PART, "--load import: resources/s", Figure.Better.HIGHER, importRate, ceilingRate, ceilingIs, 0),
        new Figure(PART, "--load import: peak RSS, MiB", Figure.Better.LOWER, importRss, ceilingRss, rssIs, 0));
    List<String> notes = new ArrayList<>();
    notes.add(String.format(Locale.ROOT,
        "backfill: %,d resources (%s, repeated with fresh ids; %d files of at most %,d lines, about %,d MB) exported by a"
            + " cheap bulk-export model (kick-off 202, one poll 202 with Retry-After: 1, then the manifest; files served"
            + " raw) into the modelled Pathling (%s; $import reads and counts the file:// lines, then pays the same cost"
            + " per type); `pathling-relay backfill` runs in its own JVM (-Xmx%s), %d round(s) per load",
        dataset.resources(), corpus.source(), dataset.files().size(), settings.fileLines(), dataset.bytes() / 1_000_000,
        settings.cost().describe(), settings.heap(), settings.rounds()));
    notes.add(String.format(Locale.ROOT,
        "backfill resources/s = what the relay's own report gives: resources / its run time (from the export kick-off until Pathling"
            + " has everything; the 1 s poll is included, the JVM start is not); whole child JVM wall time: relay %.1f s,"
            + " import %.1f s (medians); peak RSS = VmHWM of the child; parse ceiling: the same files read by HAPI's"
            + " JSON parser in a JVM with the same -Xmx, %d round(s); the models (in the bench's JVM) used %.1f s of CPU"
            + " during the relay load",
        Percentiles.median(relayWall), Percentiles.median(importWall), ceilingRounds, Percentiles.median(relayModelCpu)));
    notes.add(String.format(Locale.ROOT,
        "backfill CPU of each child JVM, start to exit (medians): relay %.1f s (%.0f µs per resource), import %.1f s,"
            + " parse ceiling %.1f s (%.0f µs per resource); on 2 cores a load can use up to twice its wall time",
        Percentiles.median(relayCpu), 1e6 * Percentiles.median(relayCpu) / dataset.resources(),
        Percentiles.median(importCpu), Percentiles.median(ceilingCpu),
        1e6 * Percentiles.median(ceilingCpu) / dataset.resources()));
    return new PartResult(figures, notes);
  }

  private Load load(BulkExportModel source, BackfillDataset dataset, boolean viaImport) throws Exception {
    Path dataDir = workspace.newDir("backfill-data");
    Path staging = workspace.newDir("staging");
    try (ModelledPathling pathling = ModelledPathling.start(settings.cost(), false)) {
      List<String> args = new ArrayList<>(List.of(
          "backfill",
          "--source-url", source.fhirBase(),
          "--pathling-url", pathling.fhirBase(),
          "--data-dir", dataDir.toString(),
          "--batch-max", String.valueOf(relay.batchMax()),
          "--linger", relay.linger().toMillis() + "ms",
          "--linger-max", relay.lingerMax().toMillis() + "ms",
          "--parallel-types", String.valueOf(relay.parallelTypes())));
      if (viaImport) {
        args.addAll(List.of("--load", "import", "--staging-dir", staging.toString()));
      }
      Path log = workspace.root().resolve("backfill-" + (viaImport ? "import" : "relay") + ".log");
      long cpuBefore = processCpuNanos();
      ChildJvm.Result result = child(viaImport ? "import" : "relay").runRelay(args, log, CHILD_TIMEOUT);
      if (result.exitCode() != 0) {
        throw new IllegalStateException("backfill" + (viaImport ? " --load import" : "") + " exited with "
            + result.exitCode() + ":\n" + result.tail());
      }
      WriteModel.Stats stats = pathling.stats();
      long written = viaImport ? stats.importedLines() : stats.entries();
      if (written < dataset.resources()) {
        throw new IllegalStateException("the modelled Pathling got " + written + " of " + dataset.resources()
            + " resources:\n" + result.tail());
      }
      double modelCpu = (processCpuNanos() - cpuBefore) / 1e9;
      double rate = reportedRate(result).orElse(dataset.resources() / result.wallSeconds());
      return new Load(rate, mib(result.peakRssKiB()), result.wallSeconds(), modelCpu, cpu(result));
    } finally {
      Workspace.delete(dataDir);
      Workspace.delete(staging);
    }
  }

  private Load parseCeiling(BackfillDataset dataset, Path exportDir) throws Exception {
    Path log = workspace.root().resolve("parse-ceiling.log");
    ChildJvm.Result result = child("ceiling").run(ParseCeilingMain.class.getName(), List.of(exportDir.toString()), log, CHILD_TIMEOUT);
    Matcher parsed = PARSED.matcher(result.output());
    if (result.exitCode() != 0 || !parsed.find()) {
      throw new IllegalStateException("the parse ceiling failed (" + result.exitCode() + "):\n" + result.tail());
    }
    long resources = Long.parseLong(parsed.group(1));
    if (resources != dataset.resources()) {
      throw new IllegalStateException("the parse ceiling read " + resources + " of " + dataset.resources() + " resources");
    }
    double seconds = Long.parseLong(parsed.group(2)) / 1e9;
    return new Load(resources / seconds, mib(result.peakRssKiB()), result.wallSeconds(), 0, cpu(result));
  }

  /** The rate the relay's own report gives (its run time in ms; the seconds it prints are rounded). */
  private static java.util.Optional<Double> reportedRate(ChildJvm.Result result) {
    Matcher report = REPORT.matcher(result.output());
    java.util.Optional<Double> rate = java.util.Optional.empty();
    while (report.find()) {
      rate = java.util.Optional.of(Double.parseDouble(report.group(2).replace(",", ""))).filter(r -> r > 0);
    }
    return rate;
  }

  /** CPU time of this JVM so far; -1 where the platform does not tell. */
  private static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return -1;
  }

  private static double cpu(ChildJvm.Result result) {
    return result.cpuSeconds().orElse(Double.NaN);
  }

  private static double mib(OptionalLong kib) {
    return kib.isPresent() ? kib.getAsLong() / 1024.0 : Double.NaN;
  }
}
