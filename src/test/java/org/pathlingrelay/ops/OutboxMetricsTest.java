package org.pathlingrelay.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.ref.WeakReference;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;

/**
 * The outbox gauges an operator alerts on read what {@code /status} says, over real HTTP, also
 * after the garbage collector has run (Micrometer holds gauge objects weakly).
 */
class OutboxMetricsTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();

  @AfterEach
  void stop() {
    if (relay != null) {
      relay.close();
    }
  }

  private int notify(String id, int version) throws Exception {
    String body = "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\""
        + version + "\"}}";
    return http.send(
            HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay) + "/Patient/" + id))
                .header("Authorization", "Bearer " + RelayHarness.SECRET)
                .header("Content-Type", "application/fhir+json; charset=UTF-8")
                .PUT(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .statusCode();
  }

  private String get(String path) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + relay.port() + path)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private JsonNode status() throws Exception {
    return json.readTree(get("/status"));
  }

  /** The value of an unlabelled sample in a Prometheus scrape. */
  private static double sample(String scrape, String name) {
    Matcher matcher = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(scrape);
    assertThat(matcher.find()).as("%s in the scrape", name).isTrue();
    return Double.parseDouble(matcher.group(1));
  }

  /** Runs collections until one provably ran: a weakly held sentinel is gone. */
  private static void collectGarbage() {
    WeakReference<Object> sentinel = new WeakReference<>(new Object());
    for (int i = 0; i < 50 && sentinel.get() != null; i++) {
      System.gc();
    }
    assertThat(sentinel.get()).as("a garbage collection ran").isNull();
    System.gc();
  }

  @Test
  void outboxGauges_afterGarbageCollection_readWhatStatusSays() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    pathling.rejectWhen(resource -> resource instanceof Patient patient
        && patient.getIdElement().getIdPart().equals("refused"));
    assertThat(notify("refused", 1)).isEqualTo(200);
    await("Pathling refuses the resource: a dead letter")
        .atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .until(() -> status().path("deadLetters").asLong() == 1 && status().path("pending").asLong() == 0);

    pathling.goDown();
    long firstSent = System.currentTimeMillis();
    for (String id : new String[] {"a", "b", "c"}) {
      assertThat(notify(id, 2)).isEqualTo(200);
    }
    assertThat(notify("a", 1)).as("older than what is held: dropped as stale").isEqualTo(200);
    JsonNode before = status();
    assertThat(before.path("pending").asLong()).isEqualTo(3);
    assertThat(before.path("staleDrops").asLong()).isEqualTo(1);

    collectGarbage();

    // The gauges share a snapshot that lives a second: what status says shows within it.
    await("the gauges read the outbox")
        .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
        .untilAsserted(() -> {
          String scrape = get("/metrics");
          assertThat(sample(scrape, "relay_outbox_pending")).isEqualTo(3.0);
          assertThat(sample(scrape, "relay_outbox_dead_letters")).isEqualTo(1.0);
          assertThat(sample(scrape, "relay_outbox_stale_drops_total")).isEqualTo(1.0);
          double age = sample(scrape, "relay_outbox_oldest_age_seconds");
          double elapsed = (System.currentTimeMillis() - firstSent) / 1000.0;
          assertThat(age).as("the oldest pending change's age").isPositive().isLessThanOrEqualTo(elapsed + 1);
        });
  }
}
