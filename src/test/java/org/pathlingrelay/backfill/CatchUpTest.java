package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.SourceSettings;
import org.slf4j.LoggerFactory;

/** {@code serve --catch-up-interval}: sync inside the server, at start-up, on schedule, after pings. */
class CatchUpTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private final ListAppender<ILoggingEvent> catchUpLog = new ListAppender<>();

  @BeforeEach
  void listen() {
    catchUpLog.start();
    ((Logger) LoggerFactory.getLogger(CatchUp.class)).addAppender(catchUpLog);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(CatchUp.class)).detachAppender(catchUpLog);
    if (relay != null) {
      relay.close();
    }
  }

  private void startRelay(Duration interval) throws Exception {
    source.setRetryAfter("1"); // HAPI says 120; the relay would honour it (capped at 60 s)
    relay = Relay.start(
        new RelayConfig(
            RelayHarness.receiver(), dataDir, RelayHarness.forwarding(pathling.baseUrl(), ForwardMode.BATCH),
            Optional.of(new CatchUpSettings(new SourceSettings(source.baseUrl(), AccessTokens.NONE, 4), interval,
                Duration.ofMillis(200)))),
        Clock.systemUTC());
  }

  /** A backfill beside the running server, on its data dir: it queues, and the server forwards. */
  private void backfill() throws Exception {
    try (BulkExportClient client = new BulkExportClient(source.baseUrl(), AccessTokens.NONE,
        BulkExportClient.Settings.DEFAULTS, 4, Pause.SLEEP)) {
      new Backfill(client, relay.outbox(), relay.outbox(), dataDir, ca.uhn.fhir.context.FhirContext.forR4Cached().getResourceTypes(),
          Pause.SLEEP)
          .run(new BackfillPlan(ExportRequest.system(List.of(), Optional.empty()), LoadMode.RELAY, 4, false));
    }
  }

  private String status() throws Exception {
    HapiNotifier http = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    String statusUrl = RelayHarness.fhirBase(relay).replace("/fhir", "/status");
    return http.send(HttpRequest.newBuilder(URI.create(statusUrl)).GET()).body();
  }

  @Test
  void withoutAWatermark_theServerWaitsForABackfill_insteadOfExportingEverythingItself() throws Exception {
    startRelay(Duration.ofHours(1));
    await().atMost(Duration.ofSeconds(10)).until(() -> status().contains(CatchUp.WAITING));
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(source.kickOffs()).isEmpty();
    assertThat(catchUpLog.list).extracting(ILoggingEvent::getFormattedMessage)
        .filteredOn(line -> line.contains("Catch-up waits for a backfill")).hasSize(1)
        .allSatisfy(line -> assertThat(line).contains(" backfill --source-url " + source.baseUrl())
            .contains("--data-dir " + dataDir));

    backfill();

    await().atMost(Duration.ofSeconds(60)).until(() -> pathling.totalRows() == source.totalResources());
    await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("\"watermark\" : \"20"));
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(source.kickOffs()).as("one export: the backfill's, none of the catch-up's").hasSize(1);
    assertThat(source.kickOffs().get(0).param("_since")).isEmpty();
  }

  @Test
  void aPing_triggersACatchUpFromTheWatermark() throws Exception {
    startRelay(Duration.ofHours(1));
    backfill();
    await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("\"watermark\" : \"20"));
    source.put("Observation", "{\"resourceType\":\"Observation\",\"id\":\"pinged\",\"status\":\"final\","
        + "\"code\":{\"text\":\"x\"}}");

    assertThat(new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET)
        .replay("04-no-payload-post.json").status()).isEqualTo(200);

    await().atMost(Duration.ofSeconds(30)).until(() -> pathling.current("Observation", "pinged").isPresent());
    assertThat(source.kickOffs()).hasSize(2);
    assertThat(source.kickOffs().get(1).param("_since")).hasSize(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("\"lastOutcome\" : \"ok"));
  }

  @Test
  void aRecentWatermark_meansNoCatchUpAtStartUp() throws Exception {
    startRelay(Duration.ofHours(1));
    backfill();
    relay.close();
    relay = null;

    startRelay(Duration.ofHours(1));
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(source.kickOffs()).hasSize(1);
    assertThat(status()).doesNotContain(CatchUp.WAITING);
  }

  @Test
  void anOldWatermark_meansACatchUpAtStartUp_fromIt() throws Exception {
    startRelay(Duration.ofHours(1));
    backfill();
    relay.close();
    relay = null;

    startRelay(Duration.ofSeconds(1));
    await().atMost(Duration.ofSeconds(30)).until(() -> source.kickOffs().size() >= 2);
    assertThat(source.kickOffs().get(1).param("_since")).hasSize(1);
  }
}
