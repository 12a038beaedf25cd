package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import picocli.CommandLine;

/** {@code pathling-relay backfill} and {@code sync} as a user runs them, with no server running. */
class BackfillCommandTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;

  private record Run(int exitCode, String out) {}

  private Run run(String... args) throws Exception {
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    int exit = commandLine.execute(args);
    return new Run(exit, out.toString());
  }

  @Test
  void backfill_withoutAServer_forwardsItself_untilPathlingHasEverything_thenPrintsTheSummary() throws Exception {
    source.setRetryAfter("1");
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--linger", "50ms");

    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(pathling.totalRows()).isEqualTo(7_160);
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(run.out()).contains("TYPE").contains("Patient").containsPattern("total\\s+7160\\s+7160")
        .contains("everything queued has been delivered");
  }

  @Test
  void sync_afterABackfill_exportsSinceTheWatermark() throws Exception {
    source.setRetryAfter("1");
    assertThat(run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient").exitCode()).isZero();
    Run sync = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString());
    assertThat(sync.exitCode()).as(sync.out()).isZero();
    assertThat(source.kickOffs()).hasSize(2);
    assertThat(source.kickOffs().get(0).param("_type")).containsExactly("Patient");
    assertThat(source.kickOffs().get(1).param("_since")).hasSize(1);
  }

  @Test
  void backfill_toAnUnreachablePathling_givesUpAfterTheStallTimeout_sayingWhy_andARerunDeliversEverything()
      throws Exception {
    source.setRetryAfter("1");
    String nowhere = "http://127.0.0.1:" + closedPort() + "/fhir";
    Run stalled = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", nowhere,
        "--data-dir", dataDir.toString(), "--linger", "50ms", "--forward-stall-timeout", "3s");

    assertThat(stalled.exitCode()).as(stalled.out()).isEqualTo(5);
    assertThat(stalled.out())
        .contains("gave up: no change reached Pathling for 3s")
        .contains("Pathling at " + nowhere + " is not taking changes")
        .contains("Connection refused")
        .contains("7160 change(s) are kept in the outbox")
        .contains("--forward-stall-timeout");
    assertThat(pathling.totalRows()).isZero();

    Run rerun = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--linger", "50ms");
    assertThat(rerun.exitCode()).as(rerun.out()).isZero();
    assertThat(pathling.totalRows()).isEqualTo(7_160);
    assertThat(source.kickOffs()).as("the rerun resumed, it did not export again").hasSize(1);
    assertThat(rerun.out()).contains("7160 change(s) forwarded").contains("resumed");
  }

  @Test
  void backfill_whosePatientsPathlingRefuses_exitsNonZero_andPrintsADeadLettersCommandThatWorks() throws Exception {
    source.setRetryAfter("1");
    pathling.rejectWhen(resource -> resource instanceof org.hl7.fhir.r4.model.Patient);
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--linger", "50ms", "--type", "Patient");

    int patients = source.resourceCounts().get("Patient");
    assertThat(run.exitCode()).as(run.out()).isEqualTo(4);
    assertThat(run.out())
        .doesNotContain("everything queued has been delivered")
        .contains(patients + " change(s) forwarded, of which Pathling refused " + patients);
    String hint = run.out().lines().filter(line -> line.contains(" dead-letters list ")).findFirst().orElseThrow();
    assertThat(hint).startsWith("  java ");

    // Follow the hint as printed: the words after the launcher.
    String[] pasted = hint.substring(hint.indexOf("dead-letters list")).trim().split("\\s+");
    Run list = run(pasted);
    assertThat(list.exitCode()).as(list.out()).isZero();
    assertThat(list.out().lines().filter(line -> line.startsWith("Patient/"))).hasSize(patients);
  }

  /** Runs the command on its own thread, as the shutdown hook's Ctrl-C does: interrupting it. */
  private java.util.concurrent.CompletableFuture<Run> runStoppable(Thread[] runner, String... args) {
    java.util.concurrent.CompletableFuture<Run> done = new java.util.concurrent.CompletableFuture<>();
    runner[0] = new Thread(() -> {
      try {
        done.complete(run(args));
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "backfill-under-test");
    runner[0].start();
    return done;
  }

  @Test
  void backfill_stoppedWhileForwarding_saysWhatIsKept_andExits130() throws Exception {
    source.setRetryAfter("1");
    Thread[] runner = new Thread[1];
    var done = runStoppable(runner, "backfill", "--source-url", source.baseUrl(),
        "--pathling-url", "http://127.0.0.1:" + closedPort() + "/fhir", "--data-dir", dataDir.toString());
    Path journal = dataDir.resolve("backfill.json");
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
        java.nio.file.Files.isRegularFile(journal)
            && java.nio.file.Files.readString(journal).matches("(?s).*\"queuedUpToSeq\"\\s*:\\s*\\d+.*"));
    runner[0].interrupt();

    Run stopped = done.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(stopped.exitCode()).as(stopped.out()).isEqualTo(130);
    assertThat(stopped.out()).contains("Stopped. Everything exported is queued; 7160 change(s) not yet forwarded"
        + " are kept in the outbox. Run the same command again to forward them.");
  }

  @Test
  void backfill_stoppedWhileTheExportRuns_saysTheExportWasCancelled() throws Exception {
    source.setRetryAfter("1");
    source.setPollsUntilComplete(1_000);
    Thread[] runner = new Thread[1];
    var done = runStoppable(runner, "backfill", "--source-url", source.baseUrl(),
        "--pathling-url", pathling.baseUrl(), "--data-dir", dataDir.toString());
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> source.kickOffs().size() == 1);
    runner[0].interrupt();

    Run stopped = done.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(stopped.exitCode()).as(stopped.out()).isEqualTo(130);
    assertThat(stopped.out()).contains("Stopped. Nothing of this run is kept: the export was cancelled on the source");
  }

  private static int closedPort() throws java.io.IOException {
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Test
  void backfill_withAMisspeltType_isRefused_namingTheNearestType_beforeExporting() throws Exception {
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient,Patinet");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("--type Patinet is not a FHIR R4 resource type; did you mean Patient?");
    assertThat(source.kickOffs()).isEmpty();
  }

  @Test
  void sync_withAMisspeltType_isRefused_namingTheNearestType() throws Exception {
    Run run = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "observation");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("--type observation is not a FHIR R4 resource type; did you mean Observation?");
    assertThat(source.kickOffs()).isEmpty();
  }

  @Test
  void backfill_sinceAPlainDate_isRefused_showingTheFullInstantToWrite() throws Exception {
    Run run = run("backfill", "--source-url", source.baseUrl(), "--data-dir", dataDir.toString(),
        "--since", "2025-01-01");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("'2025-01-01' is not a full FHIR instant").contains("2025-01-01T00:00:00Z");
    Run noZone = run("backfill", "--source-url", source.baseUrl(), "--data-dir", dataDir.toString(),
        "--since", "2025-01-01T00:00:00");
    assertThat(noZone.exitCode()).as("which zone? the source would guess").isEqualTo(2);
    assertThat(noZone.out()).contains("'2025-01-01T00:00:00' is not a full FHIR instant");
    assertThat(source.kickOffs()).isEmpty();
  }

  @Test
  void backfill_sinceAnInstantInTheFuture_isRefused() throws Exception {
    Run run = run("backfill", "--source-url", source.baseUrl(), "--data-dir", dataDir.toString(),
        "--since", "2999-01-01T00:00:00Z");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("--since 2999-01-01T00:00:00Z is in the future");
    assertThat(source.kickOffs()).isEmpty();
  }

  @Test
  void backfill_sinceAnInstantWithAnOffset_isPassedToTheSourceAsThatInstant() throws Exception {
    source.setRetryAfter("1");
    Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient", "--since", "2025-01-01T10:00:00+10:00");
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(source.kickOffs().get(0).param("_since")).singleElement().asString().startsWith("2025-01-01T00:00:00");
  }

  @Test
  void backfill_needsASourceUrl() throws Exception {
    Run run = run("backfill", "--data-dir", dataDir.toString());
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).contains("--source-url");
  }

  @Test
  void sync_withoutAWatermark_saysItExportsEverything() throws Exception {
    source.setRetryAfter("1");
    Run sync = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient", "--linger", "50ms");
    assertThat(sync.exitCode()).as(sync.out()).isZero();
    assertThat(sync.out()).contains("No watermark in " + dataDir).contains("exports everything, as a backfill does");
    assertThat(source.kickOffs()).hasSize(1);
    assertThat(source.kickOffs().get(0).param("_since")).isEmpty();

    Run again = run("sync", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient", "--linger", "50ms");
    assertThat(again.out()).doesNotContain("No watermark");
    assertThat(source.kickOffs().get(1).param("_since")).hasSize(1);
  }

  @Test
  void aSecondBackfillOnTheSameDataDir_isRefusedInOneLine_whileTheFirstRuns_whichEndsAlone() throws Exception {
    source.setRetryAfter("1");
    source.setMinJobDuration(java.time.Duration.ofSeconds(6));
    java.util.concurrent.CompletableFuture<Run> first = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
            "--data-dir", dataDir.toString(), "--linger", "50ms");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> !source.kickOffs().isEmpty());

    Run second = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--linger", "50ms");

    assertThat(second.exitCode()).as(second.out()).isEqualTo(6);
    assertThat(second.out().strip().lines()).as(second.out()).hasSize(1)
        .allSatisfy(line -> assertThat(line).contains("another backfill, sync or catch-up is running on"));
    assertThat(first.get(60, java.util.concurrent.TimeUnit.SECONDS).exitCode()).isZero();
    assertThat(source.kickOffs()).hasSize(1);
    assertThat(pathling.totalRows()).isEqualTo(7_160);
  }

  @Test
  void aPnpLoad_besideARelayForwardingFromTheDataDir_isRefusedInOneLine_beforeAnyExport() throws Exception {
    try (org.pathlingrelay.cli.Relay relay = org.pathlingrelay.testing.RelayHarness.start(
        org.pathlingrelay.testing.RelayHarness.config(dataDir, pathling.baseUrl(), org.pathlingrelay.forward.ForwardMode.BATCH))) {
      Run run = run("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
          "--data-dir", dataDir.toString(), "--load", "pnp");

      assertThat(run.exitCode()).as(run.out()).isEqualTo(6);
      assertThat(run.out().strip().lines()).as(run.out()).singleElement().asString()
          .contains("--load pnp writes to Pathling directly").contains("use --load relay");
      assertThat(source.kickOffs()).isEmpty();
      assertThat(pathling.requests()).noneMatch(r -> r.path().contains("$import"));
    }
  }
}
