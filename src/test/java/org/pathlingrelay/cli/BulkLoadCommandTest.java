package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;
import picocli.CommandLine;

/** {@code backfill --load import} and {@code --load pnp}: Pathling loads in bulk, the relay orchestrates. */
class BulkLoadCommandTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  @TempDir Path staging;

  private record Run(int exitCode, String out) {}

  private Run run(String... args) throws Exception {
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    return new Run(commandLine.execute(args), out.toString());
  }

  @Test
  void importLoad_stagesTheExport_andPathlingImportsEveryResourceOnce() throws Exception {
    source.setRetryAfter("1");
    pathling.setImportDuration(Duration.ofMillis(1500));
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "import", "--staging-dir", staging.toString());

    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(pathling.totalRows()).isEqualTo(7_160);
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(pathling.imports()).singleElement().satisfies(request -> {
      assertThat(request.saveMode()).isEqualTo("merge");
      assertThat(request.inputs()).hasSize(18);
      assertThat(request.inputs()).allSatisfy(input -> assertThat(input.url()).startsWith("file:/").endsWith(".ndjson"));
      assertThat(request.parametersJson()).contains("\"valueCode\":\"Patient\"").contains("valueUrl");
    });
    assertThat(pathling.writes()).as("no PUT or batch: Pathling read the files itself")
        .noneMatch(w -> w.method().equals("PUT") || w.isBatch());
    try (Stream<Path> left = Files.walk(staging)) {
      assertThat(left.filter(Files::isRegularFile)).as("staged files removed after success").isEmpty();
    }
    assertThat(run.out()).containsPattern("total\\s+7160");
  }

  @Test
  void importLoad_overwrite_isPassedAsTheSaveMode() throws Exception {
    source.setRetryAfter("1");
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "import", "--staging-dir", staging.toString(),
        "--save-mode", "overwrite", "--type", "Patient");
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(pathling.imports()).singleElement().satisfies(r -> assertThat(r.saveMode()).isEqualTo("overwrite"));
    assertThat(pathling.ids("Patient")).hasSize(source.resourceCounts().get("Patient"));
  }

  @Test
  void importLoad_needsAStagingDir() throws Exception {
    Run run = run("backfill", "--source-url", source.baseUrl(), "--data-dir", dataDir.toString(), "--load", "import");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("--staging-dir");
  }

  @Test
  void importLoad_isRefused_whileAnotherRelayForwardsFromTheDataDir() throws Exception {
    try (var relay = Relay.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH), Clock.systemUTC())) {
      Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
          "--data-dir", dataDir.toString(), "--load", "import", "--staging-dir", staging.toString());
      assertThat(run.exitCode()).isEqualTo(6);
      assertThat(run.out()).contains("a relay is forwarding from", "stop it first, or use --load relay");
      assertThat(source.kickOffs()).isEmpty();
    }
  }

  @Test
  void pnpLoad_asksPathlingToExportFromTheSourceBaseUrl_andRecordsTheWatermark() throws Exception {
    pathling.onPnp(request -> syntheaLines(List.of("Patient", "Condition")));
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "pnp", "--type", "Patient,Condition");

    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(pathling.pnpRequests()).singleElement().satisfies(request -> {
      assertThat(request.exportUrl()).isEqualTo(source.baseUrl());
      assertThat(request.saveMode()).isEqualTo("merge");
      assertThat(request.types()).containsExactly("Patient", "Condition");
    });
    assertThat(pathling.ids("Patient")).hasSize(source.resourceCounts().get("Patient"));
    assertThat(source.kickOffs()).as("the relay itself exports nothing").isEmpty();

    Run sync = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "pnp");
    assertThat(sync.exitCode()).as(sync.out()).isZero();
    assertThat(pathling.pnpRequests()).hasSize(2);
    assertThat(pathling.pnpRequests().get(1).since()).as("sync passes the watermark as _since").isNotNull();
  }

  @Test
  void pnpLoad_watermark_isTheInstantBeforeTheKickOff_notWhenPathlingRanTheImport() throws Exception {
    pathling.onPnp(request -> syntheaLines(List.of("Patient")));
    pathling.setImportDuration(Duration.ofSeconds(2));
    java.time.Instant beforeRun = java.time.Instant.now();
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "pnp", "--type", "Patient");
    assertThat(run.exitCode()).as(run.out()).isZero();
    java.time.Instant kickOff = pathling.jobs().get(0).created();
    assertThat(pathling.jobs().get(0).finished()).isAfter(kickOff.plusMillis(1_900));

    Run sync = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "pnp", "--type", "Patient");
    assertThat(sync.exitCode()).as(sync.out()).isZero();
    java.time.Instant since = pathling.pnpRequests().get(1).since();
    // A change made while Pathling was importing is newer than the watermark: the sync picks it up.
    assertThat(since).isBetween(beforeRun.minusMillis(1), kickOff);
    assertThat(run.out()).as("the summary says what Pathling loaded, not 'total 0'")
        .contains("Pathling loaded Patient itself ($import-pnp)").doesNotContain("total");
  }

  private static Map<String, List<String>> syntheaLines(List<String> types) {
    Map<String, List<String>> lines = new HashMap<>();
    for (String type : types) {
      try {
        lines.put(type, Files.readAllLines(FakeBulkExportSource.SYNTHEA_10.resolve(type + ".000.ndjson")));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return lines;
  }
}
