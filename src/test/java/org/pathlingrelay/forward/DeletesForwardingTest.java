package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RecordedRequest;
import org.pathlingrelay.testing.RelayHarness;

/**
 * Deletes cost Pathling as much as a Bundle of a thousand upserts: the relay sends only those that
 * matter, and does not let a line of them hold a type's upserts back.
 */
class DeletesForwardingTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;

  @AfterEach
  void stop() {
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  void resourcesCreatedAndDeletedBeforeTheyWereForwarded_costNoRequest() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    HapiNotifier hapi = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    try (AutoCloseable held = relay.forwarder().hold(Set.of("Condition"))) {
      for (int n = 0; n < 50; n++) {
        assertThat(hapi.put("Condition", "c" + n, 1).status()).isEqualTo(200);
        if (n % 5 != 0) {
          assertThat(hapi.delete("Condition", "c" + n).status()).isEqualTo(200);
        }
      }
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Condition").size() == 10);
    await().atMost(Duration.ofSeconds(20)).until(() -> relay.outbox().stats().pending() == 0);
    assertThat(deletes()).as("DELETE requests").isEmpty();
    assertThat(metrics()).contains("relay_forward_deletes_skipped_total 40.0");

    assertThat(hapi.delete("Condition", "c0").status()).isEqualTo(200); // one Pathling holds

    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Condition").size() == 9);
    assertThat(deletes()).extracting(RecordedRequest::path).containsExactly("Condition/c0");
  }

  @Test
  void deletesOfResourcesTheRelayNeverSaw_goOnlyForThosePathlingHolds_afterOneSearchPerFiftyIds() throws Exception {
    // HAPI does not deliver the creation of a resource deleted before its delivery: in a burst,
    // most deletes are of ids the relay never heard of, and most of those Pathling never held.
    for (int n = 0; n < 60; n += 20) {
      Observation held = new Observation();
      held.setId("Observation/gone" + n);
      pathling.seed(held); // loaded by someone else, before the relay
    }
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    HapiNotifier hapi = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    try (AutoCloseable held = relay.forwarder().hold(Set.of("Observation"))) {
      for (int n = 0; n < 60; n++) {
        assertThat(hapi.delete("Observation", "gone" + n).status()).isEqualTo(200);
      }
    }

    await().atMost(Duration.ofSeconds(30)).until(() -> relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Observation")).isEmpty();
    assertThat(deletes()).extracting(RecordedRequest::path)
        .containsExactlyInAnyOrder("Observation/gone0", "Observation/gone20", "Observation/gone40");
    assertThat(pathling.requests().stream().filter(request -> request.method().equals("GET")
        && request.query() != null && request.query().contains("_query=fhirPath")).count())
        .as("searches by id").isBetween(2L, 3L);
    assertThat(metrics()).contains("relay_forward_deletes_skipped_total 57.0");
  }

  @Test
  void aNewUpsert_goesOut_whileHundredsOfDeletesOfItsTypeWait() throws Exception {
    for (int n = 0; n < 200; n++) {
      Observation held = new Observation();
      held.setId("Observation/old" + n);
      pathling.seed(held);
    }
    pathling.setWriteDelay(Duration.ofMillis(50), Duration.ZERO);
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    HapiNotifier hapi = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    try (AutoCloseable held = relay.forwarder().hold(Set.of("Observation"))) {
      for (int n = 0; n < 200; n++) {
        assertThat(hapi.delete("Observation", "old" + n).status()).isEqualTo(200);
      }
      assertThat(hapi.put("Observation", "new", 1).status()).isEqualTo(200);
    }

    await().atMost(Duration.ofSeconds(30)).until(() -> pathling.current("Observation", "new").isPresent());

    List<RecordedRequest> writes = pathling.writes();
    int upsertAt = writes.size() - 1;
    while (!writes.get(upsertAt).references().contains("Observation/new")) {
      upsertAt--;
    }
    assertThat(upsertAt).as("requests before the upsert went out").isLessThanOrEqualTo(2);
  }

  private String metrics() throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + relay.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static List<RecordedRequest> deletes() {
    return pathling.writes().stream().filter(write -> write.method().equals("DELETE")).toList();
  }
}
