package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;

/** {@code serve --catch-up-interval}: sync inside the server, at start-up, on schedule, after pings. */
class CatchUpTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;

  @AfterEach
  void stop() {
    if (relay != null) {
      relay.close();
    }
  }

  private void startRelay(Duration interval) throws Exception {
    source.setRetryAfter("1"); // HAPI says 120; the relay would honour it (capped at 60 s)
    relay = Relay.start(
        RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH),
        Optional.of(new Relay.CatchUpSettings(source.baseUrl(), org.pathlingrelay.auth.AccessTokens.NONE, interval, 4, Duration.ofMillis(200))),
        Clock.systemUTC());
  }

  @Test
  void withoutAWatermark_theServerCatchesUpAtStartUp_andShowsTheWatermarkInStatus() throws Exception {
    startRelay(Duration.ofHours(1));
    await().atMost(Duration.ofSeconds(60)).until(() -> pathling.totalRows() == source.totalResources());
    HapiNotifier http = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    String statusUrl = RelayHarness.fhirBase(relay).replace("/fhir", "/status");
    await().atMost(Duration.ofSeconds(10)).until(() ->
        http.send(HttpRequest.newBuilder(URI.create(statusUrl)).GET()).body().contains("\"lastOutcome\" : \"ok"));
    assertThat(http.send(HttpRequest.newBuilder(URI.create(statusUrl)).GET()).body()).contains("\"watermark\" : \"20");
    assertThat(source.kickOffs()).hasSize(1);
    assertThat(source.kickOffs().get(0).param("_since")).isEmpty();
  }

  @Test
  void aPing_triggersACatchUpFromTheWatermark() throws Exception {
    startRelay(Duration.ofHours(1));
    await().atMost(Duration.ofSeconds(60)).until(() -> source.kickOffs().size() == 1
        && pathling.totalRows() == source.totalResources());
    await().atMost(Duration.ofSeconds(10)).until(() -> relay.outbox().stats().pending() == 0);
    // wait until the first run has recorded its watermark
    await().atMost(Duration.ofSeconds(10)).until(() ->
        new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET)
            .send(HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay).replace("/fhir", "/status"))).GET())
            .body().contains("\"lastOutcome\" : \"ok"));
    source.put("Observation", "{\"resourceType\":\"Observation\",\"id\":\"pinged\",\"status\":\"final\","
        + "\"code\":{\"text\":\"x\"}}");

    assertThat(new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET)
        .replay("04-no-payload-post.json").status()).isEqualTo(200);

    await().atMost(Duration.ofSeconds(30)).until(() -> pathling.current("Observation", "pinged").isPresent());
    assertThat(source.kickOffs()).hasSize(2);
    assertThat(source.kickOffs().get(1).param("_since")).hasSize(1);
  }

  @Test
  void aRecentWatermark_meansNoCatchUpAtStartUp() throws Exception {
    startRelay(Duration.ofHours(1));
    await().atMost(Duration.ofSeconds(60)).until(() -> pathling.totalRows() == source.totalResources());
    await().atMost(Duration.ofSeconds(10)).until(() -> relay.outbox().stats().pending() == 0);
    await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(10)).until(() -> true);
    relay.close();
    relay = null;

    startRelay(Duration.ofHours(1));
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(source.kickOffs()).hasSize(1);
  }
}
