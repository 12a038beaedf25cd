package org.pathlingrelay.bench;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.pathlingrelay.testing.PathlingCost;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The bench's own command line: measures the relay against baselines taken in the same run on the
 * same machine, and prints one table (also written as markdown to {@code --out}). A developer's
 * tool, so it lives in the test tree and the product jar does not carry it; Maven runs it:
 * {@code mvn -q test-compile exec:exec@bench -Dbench.args="--parts forward --rounds 1"}.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Measure the relay beside its baselines, on this machine, in one run: ingest (vs a bare HAPI server),"
          + " forward (vs the modelled Pathling's ideal), live lag, and backfill (vs HAPI's parser alone).",
      "Prints one table of medians and ratios and writes it as markdown to --out."
    })
public final class BenchCommand implements Callable<Integer> {

  public static void main(String[] args) {
    System.exit(new CommandLine(new BenchCommand()).execute(args));
  }

  @Spec CommandSpec spec;

  @Option(names = "--parts", split = ",", defaultValue = "ingest,forward,lag,backfill",
      description = "Parts to run. Default: ${DEFAULT-VALUE}")
  List<String> parts;

  @Option(names = "--rounds", defaultValue = "3", description = "Measured rounds per figure (medians). Default: ${DEFAULT-VALUE}")
  int rounds;

  @Option(names = "--out", defaultValue = "target/bench-results.md",
      description = "Markdown file for the table (the repository's bench-results.md is updated by hand). Default: ${DEFAULT-VALUE}")
  Path out;

  @Option(names = "--corpus", defaultValue = "src/test/fixtures/synthea-10",
      description = "Folder of Synthea NDJSON files; a built-in generator is used when it is absent. Default: ${DEFAULT-VALUE}")
  Path corpus;

  @Option(names = "--work-dir", description = "Where outboxes, the export and staging go; its file system decides what fsync costs."
      + " Default: the system temp dir.")
  Path workDir;

  @Option(names = "--batch-max", defaultValue = "5000", description = "The relay's --batch-max under test. Default: ${DEFAULT-VALUE}")
  int batchMax;

  @Option(names = "--linger-ms", defaultValue = "1000", description = "The relay's --linger under test, in ms. Default: ${DEFAULT-VALUE}")
  long lingerMs;

  @Option(names = "--linger-max-ms", defaultValue = "5000", description = "The relay's --linger-max under test, in ms. Default: ${DEFAULT-VALUE}")
  long lingerMaxMs;

  @Option(names = "--parallel-types", defaultValue = "4", description = "The relay's --parallel-types under test. Default: ${DEFAULT-VALUE}")
  int parallelTypes;

  @Option(names = "--ingest-requests", defaultValue = "20000", description = "Notifications per ingest round. Default: ${DEFAULT-VALUE}")
  int ingestRequests;

  @Option(names = "--ingest-warm-up", defaultValue = "60000", description = "Notifications of the ingest warm-up, to each server: 20,000 left the relay still compiling in the first measured round. Default: ${DEFAULT-VALUE}")
  int ingestWarmUp;

  @Option(names = "--concurrency", defaultValue = "32", description = "Client connections for ingest and lag. Default: ${DEFAULT-VALUE}")
  int concurrency;

  @Option(names = "--ingest-forward", description = "During ingest, forward to the modelled Pathling instead of an unreachable port.")
  boolean ingestForward;

  @Option(names = "--forward-size", defaultValue = "20000", description = "Pending changes drained in batch mode. Default: ${DEFAULT-VALUE}")
  int forwardSize;

  @Option(names = "--forward-update-size", defaultValue = "20",
      description = "Pending changes drained in update mode (one commit each). Default: ${DEFAULT-VALUE}")
  int forwardUpdateSize;

  @Option(names = "--forward-types", defaultValue = "20",
      description = "Resource types for forward (the corpus's largest, then common types it lacks). Default: ${DEFAULT-VALUE}")
  int forwardTypes;

  @Option(names = "--commit-ms", defaultValue = "2850",
      description = "Modelled Pathling (forward, lag): a write request's merge, ms (Pathling 2.0.1's midpoint). Default: ${DEFAULT-VALUE}")
  double commitMs;

  @Option(names = "--per-resource-ms", defaultValue = "0.6",
      description = "Modelled Pathling (forward, lag): cost per upserted resource, ms. Default: ${DEFAULT-VALUE}")
  double perResourceMs;

  @Option(names = "--delete-held-ms", defaultValue = "3650",
      description = "Modelled Pathling (forward, lag): one DELETE of a resource it holds, ms. Default: ${DEFAULT-VALUE}")
  double deleteHeldMs;

  @Option(names = "--delete-absent-ms", defaultValue = "1350",
      description = "Modelled Pathling (forward, lag): one DELETE of an id it does not hold (404), ms. Default: ${DEFAULT-VALUE}")
  double deleteAbsentMs;

  @Option(names = "--pathling-cores", defaultValue = "2",
      description = "Modelled Pathling (forward, lag): cores its concurrent requests share (0: no sharing). Default: ${DEFAULT-VALUE}")
  int pathlingCores;

  @Option(names = "--model-scale", defaultValue = "1",
      description = "Multiplies the modelled Pathling's times (forward, lag), e.g. 0.1 for a quick run. Default: ${DEFAULT-VALUE}")
  double modelScale;

  @Option(names = "--lag-rate", defaultValue = "3",
      description = "Notifications a second in the lag part (a real Pathling on 2 cores keeps up with a few). Default: ${DEFAULT-VALUE}")
  int lagRate;

  @Option(names = "--lag-seconds", defaultValue = "120", description = "How long the lag stream runs. Default: ${DEFAULT-VALUE}")
  int lagSeconds;

  @Option(names = "--lag-types", defaultValue = "20",
      description = "Busy resource types in the lag stream; the quiet ones come on top. Default: ${DEFAULT-VALUE}")
  int lagTypes;

  @Option(names = "--lag-quiet-types", defaultValue = "6",
      description = "Quiet resource types in the lag stream, each with a create now and then. Default: ${DEFAULT-VALUE}")
  int lagQuietTypes;

  @Option(names = "--lag-quiet-every", defaultValue = "120",
      description = "Seconds between one quiet type's creates in the lag stream (they take turns, evenly spaced)."
          + " Default: ${DEFAULT-VALUE}")
  int lagQuietEvery;

  @Option(names = "--backfill-size", defaultValue = "500000", description = "Resources in the backfill's export. Default: ${DEFAULT-VALUE}")
  int backfillSize;

  @Option(names = "--backfill-rounds", defaultValue = "3", description = "Rounds of each backfill load, taking turns with the parse ceiling (about 45 s a round at the default size). Default: ${DEFAULT-VALUE}")
  int backfillRounds;

  @Option(names = "--backfill-file-lines", defaultValue = "1000", description = "Resources per export file (HAPI: 1000). Default: ${DEFAULT-VALUE}")
  int backfillFileLines;

  @Option(names = "--backfill-heap", defaultValue = "512m", description = "-Xmx of the backfill's JVM. Default: ${DEFAULT-VALUE}")
  String backfillHeap;

  @Option(names = "--backfill-commit-ms", defaultValue = "100",
      description = "Modelled Pathling (backfill): cost of one write, ms; small, so the relay is what is measured. Default: ${DEFAULT-VALUE}")
  double backfillCommitMs;

  @Option(names = "--backfill-per-resource-ms", defaultValue = "0.002",
      description = "Modelled Pathling (backfill): cost per resource, ms. Default: ${DEFAULT-VALUE}")
  double backfillPerResourceMs;

  @Option(names = "--pathling-url", paramLabel = "URL",
      description = "Measure forward and lag against this real Pathling (its FHIR base) instead of the modelled one,"
          + " beside baselines written to it directly in the same run. Writes only ids starting with a prefix of the"
          + " run's own (bench-<6 random>-) and deletes them at the end. Unless set, this mode runs --parts forward,lag"
          + " with --forward-size 400 --forward-update-size 10 --forward-types 2 --lag-rate 2 --lag-seconds 60,"
          + " so cleanup (a DELETE each, ~3.6 s on Pathling 2.0.1) stays minutes.")
  String pathlingUrl;

  @Option(names = "--pathling-batch-sizes", split = ",", defaultValue = "100,1000",
      description = "With --pathling-url: sizes of the direct batches whose best throughput is the forward baseline"
          + " (capped at the resources of a type). Default: ${DEFAULT-VALUE}")
  List<Integer> pathlingBatchSizes;

  @Option(names = "--pathling-cleanup", paramLabel = "PREFIX",
      description = "With --pathling-url: measure nothing; list the ids of the types the bench writes"
          + " ([type]?_elements=id) and delete those starting with PREFIX (as printed by an interrupted run).")
  String pathlingCleanup;

  @Option(names = "--backfill-jvm-arg", description = "Extra argument for the backfill's JVMs, repeatable; {load} becomes relay,"
      + " import or ceiling. Use the = form, e.g. --backfill-jvm-arg=-XX:StartFlightRecording=filename=/tmp/backfill-{load}.jfr")
  List<String> backfillJvmArgs;

  @Override
  public Integer call() throws Exception {
    if (pathlingCleanup != null) {
      return cleanUp();
    }
    BenchSettings settings;
    try {
      settings = settings();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    PrintWriter err = spec.commandLine().getErr();
    Bench.Outcome outcome = new Bench(settings, line -> {
      err.println(line);
      err.flush();
    }).run();
    String markdown = outcome.table().markdown();
    PrintWriter stdout = spec.commandLine().getOut();
    stdout.println();
    stdout.print(markdown);
    stdout.flush();
    Path parent = out.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(out, markdown, StandardCharsets.UTF_8);
    err.println("The table is also in " + out.toAbsolutePath());
    err.flush();
    return outcome.failedParts().isEmpty() ? 0 : 1;
  }

  /** {@code --pathling-cleanup}: deletes a run's leftovers by listing the types the bench writes. */
  private int cleanUp() throws Exception {
    if (pathlingUrl == null) {
      throw new ParameterException(spec.commandLine(), "--pathling-cleanup needs --pathling-url");
    }
    if (!pathlingCleanup.matches("bench-[a-z0-9]+-")) {
      throw new ParameterException(spec.commandLine(),
          "--pathling-cleanup takes a run's prefix, bench-<random>- (e.g. bench-k3x9q2-), not " + pathlingCleanup);
    }
    PrintWriter err = spec.commandLine().getErr();
    Consumer<String> progress = line -> {
      err.println(line);
      err.flush();
    };
    applyRealDefaults();
    List<String> types = SyntheaCorpus.load(corpus).types(Math.max(forwardTypes, lagTypes + lagQuietTypes));
    PathlingDirect pathling = new PathlingDirect(pathlingUrl);
    List<String> keys = new ArrayList<>();
    for (String type : types) {
      for (String id : pathling.ids(type, pathlingCleanup)) {
        keys.add(type + "/" + id);
      }
    }
    progress.accept("found " + keys.size() + " resource(s) with ids starting with " + pathlingCleanup + " in "
        + String.join(", ", types));
    new PathlingCleanup(pathling, parallelTypes, progress).delete(keys);
    return 0;
  }

  /** The small volumes of --pathling-url, for every size option the user left unset: cleanup is a DELETE each. */
  private void applyRealDefaults() {
    ParseResult given = spec.commandLine().getParseResult();
    if (!given.hasMatchedOption("--parts")) {
      parts = BenchSettings.REAL_PARTS;
    }
    if (!given.hasMatchedOption("--forward-size")) {
      forwardSize = 400;
    }
    if (!given.hasMatchedOption("--forward-update-size")) {
      forwardUpdateSize = 10;
    }
    if (!given.hasMatchedOption("--forward-types")) {
      forwardTypes = 2;
    }
    if (!given.hasMatchedOption("--lag-rate")) {
      lagRate = 2;
    }
    if (!given.hasMatchedOption("--lag-seconds")) {
      lagSeconds = 60;
    }
    if (!given.hasMatchedOption("--lag-quiet-types")) {
      lagQuietTypes = 2;
    }
    if (!given.hasMatchedOption("--lag-quiet-every")) {
      lagQuietEvery = 30; // each quiet type twice in the 60 s stream
    }
  }

  private BenchSettings settings() {
    if (pathlingUrl != null) {
      applyRealDefaults();
    }
    for (int value : new int[] {ingestRequests, concurrency, forwardTypes, lagRate, lagSeconds, lagTypes, lagQuietTypes,
        lagQuietEvery,
        backfillSize, backfillRounds, batchMax, parallelTypes}) {
      if (value < 1) {
        throw new IllegalArgumentException("sizes, rates and counts must be at least 1");
      }
    }
    if (ingestWarmUp < 0 || forwardSize < 0 || forwardUpdateSize < 0 || lingerMs < 0) {
      throw new IllegalArgumentException("sizes must not be negative");
    }
    if (!(modelScale > 0)) {
      throw new IllegalArgumentException("--model-scale must be positive");
    }
    PathlingCost model = new PathlingCost(commitMs, perResourceMs, deleteHeldMs, deleteAbsentMs,
        PathlingCost.PATHLING_2_0_1.countMs(), PathlingCost.PATHLING_2_0_1.importPerResourceMs(), pathlingCores)
        .scaled(modelScale);
    return new BenchSettings(
        new LinkedHashSet<>(parts.stream().map(String::trim).map(String::toLowerCase).toList()),
        rounds,
        corpus,
        workDir != null ? workDir : Path.of(System.getProperty("java.io.tmpdir")),
        new BenchSettings.RelayUnderTest(batchMax, Duration.ofMillis(lingerMs), parallelTypes,
            Duration.ofMillis(lingerMaxMs)),
        new BenchSettings.Ingest(ingestRequests, ingestWarmUp, concurrency, ingestForward),
        new BenchSettings.Forward(forwardSize, forwardUpdateSize, forwardTypes, model),
        new BenchSettings.Lag(lagRate, Duration.ofSeconds(lagSeconds), concurrency, model, lagTypes, lagQuietTypes,
            lagQuietEvery),
        new BenchSettings.Backfill(backfillSize, backfillRounds, backfillFileLines, backfillHeap,
            backfillJvmArgs == null ? List.of() : backfillJvmArgs,
            new PathlingCost(backfillCommitMs, backfillPerResourceMs)),
        Optional.ofNullable(pathlingUrl).map(url -> new BenchSettings.Real(url, pathlingBatchSizes)));
  }
}
