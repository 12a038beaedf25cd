package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.backfill.Backfill;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.BackfillReport;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;

/**
 * The source refusing connections while a backfill polls its export. {@code BackfillTest} covers
 * the source's 503s, downloads cut off midway and a killed run; here the source is really gone
 * (connection refused): a short outage is ridden out by the retries, a long one fails the run with
 * the reason, and the next run resumes the same export instead of starting another.
 */
class SourceDownDuringBackfillTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private final ExecutorService runner = Executors.newSingleThreadExecutor();

  @BeforeEach
  void start() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    source.setPollsUntilComplete(1_000_000); // polled until the test lets the export finish
  }

  @AfterEach
  void stop() throws Exception {
    runner.shutdownNow();
    relay.close();
  }

  /** Polls every 50-100 ms; a failed request is tried {@code attempts} times, from 200 ms apart. */
  private static BulkExportClient client(int attempts) {
    return new BulkExportClient(source.baseUrl(), Optional.empty(),
        new BulkExportClient.Settings(Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMinutes(2),
            attempts, Duration.ofMillis(200), Duration.ofSeconds(30)),
        4, Pause.SLEEP);
  }

  private Future<BackfillReport> startBackfill(BulkExportClient client) {
    Backfill backfill = new Backfill(client, relay.outbox(), relay.outbox(), dataDir,
        FhirContext.forR4Cached().getResourceTypes(), Pause.SLEEP);
    return runner.submit(() -> backfill.run(new BackfillPlan(
        ExportRequest.system(List.of(), Optional.empty()), LoadMode.RELAY, 4, false)));
  }

  private static void assertPathlingHoldsTheWholeDataset() {
    Map<String, Integer> expected = source.resourceCounts();
    expected.forEach((type, count) -> assertThat(pathling.ids(type)).as(type).hasSize(count));
    assertThat(pathling.totalRows()).isEqualTo(source.totalResources());
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void aShortOutageWhilePolling_isRiddenOutByRetries_andTheExportCompletes() throws Exception {
    try (BulkExportClient client = client(6)) { // retries span 0.2 + 0.4 + 0.8 + 1.6 + 3.2 s
      Future<BackfillReport> run = startBackfill(client);
      await().atMost(Duration.ofSeconds(20)).until(() -> source.pollCount() >= 2);
      source.goDown();
      Thread.sleep(1_000);
      source.setPollsUntilComplete(0);
      source.comeBack();

      run.get(120, TimeUnit.SECONDS);
    }
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("the same export, not a second one").hasSize(1);
  }

  @Test
  void anOutageLongerThanTheRetries_failsTheRunWithTheReason_andTheNextRunResumesTheSameExport()
      throws Exception {
    try (BulkExportClient client = client(2)) {
      Future<BackfillReport> run = startBackfill(client);
      await().atMost(Duration.ofSeconds(20)).until(() -> source.pollCount() >= 2);
      source.goDown();
      assertThatThrownBy(() -> run.get(60, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause().hasMessageContaining("Connection refused");
    }
    assertThat(pathling.totalRows()).isZero();

    source.setPollsUntilComplete(0);
    source.comeBack();
    try (BulkExportClient client = client(2)) {
      startBackfill(client).get(120, TimeUnit.SECONDS);
    }
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("resumed from the journal, not exported again").hasSize(1);
  }

  @Test
  void pollsFailingLongerThanTheRetries_leaveTheJobRunningOnTheSource_soThatTheNextRunResumesIt()
      throws Exception {
    try (BulkExportClient client = client(2)) {
      Future<BackfillReport> run = startBackfill(client);
      await().atMost(Duration.ofSeconds(20)).until(() -> source.pollCount() >= 2);
      source.failNextPolls(1_000, 503);
      assertThatThrownBy(() -> run.get(60, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause().hasMessageContaining("503");
    }
    assertThat(source.cancellations()).as("the export the journal will resume was cancelled").isEmpty();

    source.failNextPolls(0, 503);
    source.setPollsUntilComplete(0);
    try (BulkExportClient client = client(2)) {
      startBackfill(client).get(120, TimeUnit.SECONDS);
    }
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("resumed from the journal, not exported again").hasSize(1);
  }
}
