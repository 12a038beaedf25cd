package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.pathling.PathlingCalls;
import org.pathlingrelay.pathling.PathlingServer;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.source.SourceClients;
import org.pathlingrelay.source.SourceHistory;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.slf4j.LoggerFactory;

/**
 * Backfill from a HAPI-shaped bulk-export source through the outbox into a fake Pathling. A real
 * relay ({@code serve}) forwards, as it would in production; the backfill only queues.
 */
class BackfillTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  /** Poll quickly: HAPI asks for 120 s, which the client caps; tests cap it at 100 ms. */
  private static final BulkExportClient.Settings FAST =
      new BulkExportClient.Settings(Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMinutes(2), 4,
          Duration.ofMillis(50), Duration.ofSeconds(30));

  @TempDir Path dataDir;
  private Relay relay;
  private BulkExportClient client;

  @BeforeEach
  void start() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    source.setPollsUntilComplete(2);
    client = newClient();
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    relay.close();
  }

  private static BulkExportClient newClient() {
    return new BulkExportClient(source.baseUrl(), Optional.empty(), FAST, 4, Pause.SLEEP);
  }

  private Backfill backfill() {
    Outbox outbox = relay.outbox();
    return new Backfill(client, outbox, outbox, dataDir, resourceTypes(),
        Pause.SLEEP);
  }

  /** As the commands build it: with the source's history for the deletes of a sync. */
  private Backfill backfillWithHistory() {
    Outbox outbox = relay.outbox();
    return new Backfill(client, outbox, outbox, dataDir, resourceTypes(), Pause.SLEEP, null,
        ForwardingHold.NONE, BackfillProgress.log(), DeliveryWatch.unbounded(), RetryRegistry.ofDefaults(),
        new SourceHistory(SourceClients.fhirClient(FhirContext.forR4Cached(), source.baseUrl(), AccessTokens.NONE)));
  }

  private static java.util.Set<String> resourceTypes() {
    return ca.uhn.fhir.context.FhirContext.forR4Cached().getResourceTypes();
  }

  private static BackfillPlan full() {
    return new BackfillPlan(ExportRequest.system(List.of(), Optional.empty()), LoadMode.RELAY, 4, false);
  }

  private static void assertPathlingHoldsTheWholeDataset() {
    Map<String, Integer> expected = source.resourceCounts();
    expected.forEach((type, count) ->
        assertThat(pathling.ids(type)).as(type).hasSize(count));
    assertThat(pathling.totalRows()).isEqualTo(source.totalResources());
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(pathling.conflicts()).isZero();
  }

  @Test
  void backfill_deliversEverySyntheaResourceOnce_andReportsPerType() throws Exception {
    BackfillReport report = backfill().run(full());

    assertThat(source.totalResources()).isEqualTo(7_160);
    assertPathlingHoldsTheWholeDataset();
    assertThat(report.exported()).isEqualTo(7_160);
    assertThat(report.types()).hasSize(13);
    assertThat(report.delivered()).isTrue();
    assertThat(source.kickOffs()).singleElement().satisfies(k -> {
      assertThat(k.path()).endsWith("$export");
    });
    assertThat(source.downloads()).allSatisfy(d -> assertThat(d.accept()).startsWith("application/fhir+ndjson"));
    StringWriter table = new StringWriter();
    report.print(new PrintWriter(table));
    assertThat(table.toString()).contains("Patient").contains("7160");
    assertThat(backfill().watermark()).contains(report.transactionTime());
  }

  @Test
  void aDownloadCutOffMidStream_isResumedWithoutLosingOrRepeatingResources() throws Exception {
    source.cutNextDownloads(2, 30_000);
    backfill().run(full());
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).hasSize(1);
  }

  @Test
  void aBackfillKilledMidDownload_resumesTheSameExportOnTheNextRun() throws Exception {
    source.failNextDownloads(1_000, 500);
    assertThatThrownBy(() -> backfill().run(full())).isInstanceOf(RuntimeException.class);
    assertThat(pathling.totalRows()).isLessThan(7_160);

    source.failNextDownloads(0, 500);
    client.close();
    client = newClient(); // a new process: only the journal in the data dir connects the two runs
    backfill().run(full());
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("no second export").hasSize(1);
  }

  @Test
  void aResumedExportThatTheSourceHasPurged_isReplacedByANewExport_insteadOfFailingOnEveryRun() throws Exception {
    source.failNextDownloads(1_000, 500);
    assertThatThrownBy(() -> backfill().run(full())).isInstanceOf(RuntimeException.class);
    source.failNextDownloads(0, 500);
    source.expireJobs(); // as HAPI does 2 h after the export finished

    client.close();
    client = newClient();
    backfill().run(full());

    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("a new export in place of the purged one").hasSize(2);
  }

  @Test
  void aBackfillStoppedWhileTheExportRuns_cancelsIt_andTheNextRunStartsANewExport() throws Exception {
    source.setHapiCancelQuirk(true); // HAPI 8.8.0 answers "in progress, CANCELLED" to a cancelled job for ever
    source.setPollsUntilComplete(1_000_000);
    java.util.concurrent.ExecutorService runner = java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      java.util.concurrent.Future<BackfillReport> stopped = runner.submit(() -> backfill().run(full()));
      await().atMost(Duration.ofSeconds(30)).until(() -> source.pollCount() > 0);
      stopped.cancel(true); // what Ctrl-C or SIGTERM does to the run, through the shutdown hook
      await().atMost(Duration.ofSeconds(30)).until(() -> !source.cancellations().isEmpty());
    } finally {
      runner.shutdownNow();
    }

    source.setPollsUntilComplete(2);
    client.close();
    client = newClient();
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> backfill().run(full()));

    assertPathlingHoldsTheWholeDataset();
    assertThat(source.kickOffs()).as("the cancelled export is not polled again").hasSize(2);
  }

  @Test
  void sync_exportsOnlyWhatChangedSinceTheWatermark_includingDeletes() throws Exception {
    source.setReportDeletions(true);
    BackfillReport first = backfill().run(full());
    String patientId = source.ids("Patient").get(0);
    String deletedId = source.ids("Patient").get(1);
    source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"" + patientId + "\",\"gender\":\"other\"}");
    source.delete("Patient", deletedId);

    Backfill sync = backfill();
    BackfillReport second = sync.run(new BackfillPlan(
        ExportRequest.system(List.of(), sync.watermark()), LoadMode.RELAY, 4, true));

    assertThat(source.kickOffs()).hasSize(2);
    assertThat(source.kickOffs().get(1).params().get("_since"))
        .containsExactly(first.transactionTime().toString());
    assertThat(second.exported()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      assertThat(pathling.current("Patient", patientId).orElseThrow().toString()).isNotNull();
      assertThat(pathling.rowCount("Patient", deletedId)).isZero();
    });
    assertThat(((Patient) pathling.current("Patient", patientId).orElseThrow())
        .getGender().toCode()).isEqualTo("other");
    assertThat(sync.watermark()).contains(second.transactionTime());
  }

  @Test
  void sync_onASourceThatWritesNoDeletedFiles_carriesItsDeletesFromTheHistory() throws Exception {
    source.setReportDeletions(false); // as real HAPI JPA 8.8.0
    backfillWithHistory().run(full());
    List<String> patients = source.ids("Patient");
    String recreated = patients.get(2);
    source.delete("Patient", patients.get(0));
    source.delete("Patient", patients.get(1));
    source.delete("Patient", recreated);
    source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"" + recreated + "\",\"gender\":\"other\"}");
    String condition = source.ids("Condition").get(0);
    source.delete("Condition", condition);

    Backfill sync = backfillWithHistory();
    BackfillReport report = sync.run(new BackfillPlan(
        ExportRequest.system(List.of(), sync.watermark()), LoadMode.RELAY, 4, true));

    assertThat(report.types()).filteredOn(t -> t.deletes() > 0)
        .extracting(BackfillReport.TypeCounts::type, BackfillReport.TypeCounts::deletes)
        .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("Patient", 2L),
            org.assertj.core.groups.Tuple.tuple("Condition", 1L));
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      assertThat(pathling.rowCount("Patient", patients.get(0))).isZero();
      assertThat(pathling.rowCount("Patient", patients.get(1))).isZero();
      assertThat(pathling.rowCount("Condition", condition)).isZero();
    });
    assertThat(((Patient) pathling.current("Patient", recreated).orElseThrow()).getGender().toCode())
        .isEqualTo("other");
    assertPathlingHoldsTheWholeDataset();
    assertThat(source.historyReads()).isNotEmpty()
        .allSatisfy(read -> assertThat(read.cacheControl()).isEqualTo("no-cache"));
  }

  @Test
  void sync_onASourceWithNeitherDeletedFilesNorHistory_carriesTheUpdates_andSaysTheDeletesStay() throws Exception {
    source.setReportDeletions(false);
    source.setHistory(false);
    backfillWithHistory().run(full());
    String updated = source.ids("Patient").get(0);
    String deleted = source.ids("Patient").get(1);
    source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"" + updated + "\",\"gender\":\"other\"}");
    source.delete("Patient", deleted);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    Logger log = (Logger) LoggerFactory.getLogger(Backfill.class);
    logged.start();
    log.addAppender(logged);
    try {
      Backfill sync = backfillWithHistory();
      sync.run(new BackfillPlan(ExportRequest.system(List.of(), sync.watermark()), LoadMode.RELAY, 4, true));
    } finally {
      log.detachAppender(logged);
    }

    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
        ((Patient) pathling.current("Patient", updated).orElseThrow()).getGender().toCode()).isEqualTo("other"));
    assertThat(pathling.rowCount("Patient", deleted)).isEqualTo(1);
    assertThat(logged.list).filteredOn(e -> e.getLevel() == Level.WARN)
        .extracting(ILoggingEvent::getFormattedMessage)
        .singleElement().asString()
        .contains("answers no _history", "stay in Pathling until a full backfill");
  }

  @Test
  void backfill_forwardsATypeOnceAllItsFilesAreQueued_inOneRequestNotOnePerFile() throws Exception {
    source.setMaxResourcesPerFile(300); // Procedure: 7 files, MedicationRequest: 6
    pathling.setWriteDelay(Duration.ofMillis(300), Duration.ZERO); // files keep coming while a write runs
    Outbox outbox = relay.outbox();
    Backfill backfill = new Backfill(client, outbox, outbox, dataDir, resourceTypes(), Pause.SLEEP,
        null, relay.forwarder()::hold, BackfillProgress.log());

    backfill.run(new BackfillPlan(ExportRequest.system(List.of("Procedure", "MedicationRequest"), Optional.empty()),
        LoadMode.RELAY, 1, false));

    for (String type : List.of("Procedure", "MedicationRequest")) {
      assertThat(pathling.ids(type)).as(type).hasSize(source.resourceCounts().get(type));
      assertThat(pathling.writes()).as("requests carrying %s", type)
          .filteredOn(write -> write.references().stream().anyMatch(r -> r.startsWith(type + "/")))
          .hasSize(1); // each is below --batch-max (5,000)
    }
  }

  @Test
  void aLiveUpdateRacingABackfill_keepsTheNewerVersion() throws Exception {
    source.put("Patient", HapiNotifier.resource("Patient", "raced", 3));
    HapiNotifier live = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    assertThat(live.put("Patient", "raced", 5).status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.current("Patient", "raced").isPresent());

    BackfillReport report = backfill().run(full());

    assertThat(pathling.current("Patient", "raced").orElseThrow().getMeta().getVersionId()).isEqualTo("5");
    assertThat(report.types()).filteredOn(t -> t.type().equals("Patient"))
        .singleElement().satisfies(t -> assertThat(t.stale()).isEqualTo(1));
  }

  private PathlingServer pathlingServer() {
    return new PathlingServer(FhirContext.forR4(), pathling.baseUrl(), AccessTokens.NONE, Duration.ofSeconds(30),
        new PathlingCalls(ResilienceSettings.DEFAULTS, RetryRegistry.ofDefaults(), CircuitBreakerRegistry.ofDefaults()),
        Clock.systemUTC());
  }

  @Test
  void aLiveUpdateDuringAnImport_waitsUntilTheImportIsDone_andThenWins(@TempDir Path staging) throws Exception {
    source.put("Patient", HapiNotifier.resource("Patient", "raced", 3));
    pathling.setImportDuration(Duration.ofSeconds(2));
    Outbox outbox = relay.outbox();
    Backfill backfill = new Backfill(client, outbox, outbox, dataDir, resourceTypes(), Pause.SLEEP,
        new Backfill.PathlingLoads(pathlingServer().imports(Pause.SLEEP, Duration.ofMillis(50), Duration.ofMillis(200))),
        relay.forwarder()::hold, BackfillProgress.log());
    BackfillPlan plan = new BackfillPlan(ExportRequest.system(List.of("Patient"), Optional.empty()), LoadMode.IMPORT, 2,
        false, Optional.of(new BackfillPlan.Staging(staging, staging.toUri().toString().replaceFirst("/$", ""))), "merge");
    java.util.concurrent.CompletableFuture<BackfillReport> running =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          try {
            return backfill.run(plan);
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
    await().atMost(Duration.ofSeconds(20)).until(pathling::importInProgress);

    HapiNotifier live = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    assertThat(live.put("Patient", "raced", 5).status()).isEqualTo(200);
    assertThat(pathling.writes()).as("held while Pathling imports Patient")
        .noneMatch(w -> w.references().contains("Patient/raced"));

    running.get(60, java.util.concurrent.TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(20)).until(() ->
        "5".equals(pathling.current("Patient", "raced").map(p -> p.getMeta().getVersionId()).orElse(null)));
    assertThat(pathling.conflicts()).isZero();
    assertThat(pathling.rowCount("Patient", "raced")).isEqualTo(1);
  }

  @Test
  void errorFilesOfTheExport_areReported() throws Exception {
    source.addError("Patient/broken could not be exported");
    BackfillReport report = backfill().run(full());
    assertThat(report.sourceErrors()).singleElement().asString().contains("Patient/broken could not be exported");
    assertPathlingHoldsTheWholeDataset();
  }

  @Test
  void aSourceThatRequiresAToken_getsItOnEveryRequestIncludingDownloads() throws Exception {
    source.requireToken("source-secret");
    client.close();
    client = new BulkExportClient(source.baseUrl(), Optional.of("source-secret"), FAST, 4, Pause.SLEEP);
    backfill().run(new BackfillPlan(ExportRequest.system(List.of("Patient", "Condition"), Optional.empty()), LoadMode.RELAY, 2, false));
    assertThat(source.downloads()).isNotEmpty().allSatisfy(d -> assertThat(d.authorization()).isEqualTo("Bearer source-secret"));
    assertThat(pathling.ids("Patient")).hasSize(source.resourceCounts().get("Patient"));
    assertThat(pathling.ids("Encounter")).isEmpty();
  }

  @Test
  void transientFailuresOfTheSource_areRetried() throws Exception {
    source.failNextKickOffs(1, 503);
    source.failNextPolls(2, 503);
    source.failNextDownloads(2, 503);
    backfill().run(full());
    assertPathlingHoldsTheWholeDataset();
  }

  @Test
  void anExportThatTakesTooLong_isCancelledOnTheSource() throws Exception {
    source.setPollsUntilComplete(1_000_000);
    client.close();
    client = new BulkExportClient(source.baseUrl(), Optional.empty(),
        new BulkExportClient.Settings(Duration.ofMillis(20), Duration.ofMillis(20), Duration.ofMillis(300), 2,
            Duration.ofMillis(10), Duration.ofSeconds(10)), 2, Pause.SLEEP);
    assertThatThrownBy(() -> backfill().run(full())).hasMessageContaining("did not finish");
    assertThat(source.cancellations()).hasSize(1);
  }

  @Test
  void linesThatCannotBeSynced_areCountedAsErrorsAndSkipped_whileTheRestOfTheFileArrives() throws Exception {
    Path dataset = dataDir.resolve("dataset");
    Files.createDirectories(dataset);
    byte[] notUtf8 = patient("p2", "M?ller").getBytes(StandardCharsets.UTF_8);
    notUtf8[new String(notUtf8, StandardCharsets.UTF_8).indexOf('?')] = (byte) 0xFC; // Latin-1 ü
    try (OutputStream out = Files.newOutputStream(dataset.resolve("Patient.ndjson"))) {
      out.write((patient("p1", "Smith") + "\n").getBytes(StandardCharsets.UTF_8));
      out.write(notUtf8);
      out.write(("\n" + "{\"resourceType\":\"Patient\",\"id\":\"a$b\"}\n").getBytes(StandardCharsets.UTF_8));
      out.write((patient("p4", "Müller") + "\r\n").getBytes(StandardCharsets.UTF_8));
    }
    source.useDataset(dataset);

    BackfillReport report = backfill().run(full());

    assertThat(pathling.ids("Patient")).containsExactlyInAnyOrder("p1", "p4");
    assertThat(pathling.current("Patient", "p4")).get()
        .extracting(p -> ((Patient) p).getNameFirstRep().getFamily())
        .isEqualTo("Müller");
    assertThat(report.types()).singleElement().satisfies(patients -> {
      assertThat(patients.exported()).isEqualTo(4);
      assertThat(patients.queued()).isEqualTo(2);
      assertThat(patients.errors()).isEqualTo(2);
    });
  }

  private static String patient(String id, String family) {
    return "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"1\"},"
        + "\"name\":[{\"family\":\"" + family + "\"}]}";
  }
}
