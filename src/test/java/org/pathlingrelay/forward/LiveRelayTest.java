package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.instance.model.api.IBaseResource;
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
 * The live relay end to end: HAPI-shaped notifications over HTTP into a real relay (Jetty, SQLite
 * file, forwarder), forwarded over HTTP into a fake Pathling that has Pathling's quirks.
 */
class LiveRelayTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private HapiNotifier source;

  private void startRelay(ForwardMode mode) throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), mode));
    source = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
  }

  @AfterEach
  void stopRelay() {
    if (relay != null) {
      relay.close();
    }
  }

  private static String versionOf(IBaseResource resource) {
    return resource.getMeta().getVersionId();
  }

  private void awaitDrained() {
    await("outbox drained")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> relay.outbox().stats().pending() == 0);
  }

  /** No request to the fake Pathling ever carried one id twice. */
  private static void assertNoBundleRepeatsAnId() {
    for (RecordedRequest request : pathling.writes()) {
      assertThat(request.references()).as("ids in %s", request).doesNotHaveDuplicates();
    }
  }

  @Test
  void capturedHapiCreateUpdateDelete_reachPathling() throws Exception {
    startRelay(ForwardMode.BATCH);
    assertThat(source.replay("01-create-put.json").status()).isEqualTo(200);
    assertThat(source.replay("02-update-put.json").status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(20))
        .until(() -> pathling.current("Patient", "wire-1795369324")
            .map(p -> versionOf(p).equals("2")).orElse(false));
    assertThat(pathling.current("Patient", "wire-1795369324").orElseThrow().getMeta().getLastUpdated())
        .as("meta is forwarded exactly as the source sent it")
        .isNotNull();

    assertThat(source.replay("03-delete.json").status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(20))
        .until(() -> pathling.rowCount("Patient", "wire-1795369324") == 0);
    awaitDrained();
  }

  @Test
  void concurrentOutOfOrderStream_endsWithExactlyTheSourcesLatestState() throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.setWriteDelay(Duration.ofMillis(200), Duration.ZERO);
    List<String> types = List.of("Patient", "Observation", "Condition", "Encounter", "Procedure");
    Random random = new Random(42);
    // The source's truth: resources with versions 1..4, every fifth one deleted at version 5.
    List<Runnable> notifications = new ArrayList<>();
    Map<String, Long> latest = new HashMap<>();
    Set<String> deleted = new HashSet<>();
    for (int i = 0; i < 400; i++) {
      String type = types.get(i % types.size());
      String id = "r" + i;
      int versions = 1 + random.nextInt(4);
      for (long v = 1; v <= versions; v++) {
        long version = v;
        notifications.add(() -> assertThat(source.put(type, id, version).status()).isEqualTo(200));
      }
      latest.put(type + "/" + id, (long) versions);
      if (i % 5 == 0) {
        deleted.add(type + "/" + id);
      }
    }
    // Two delivery threads per subscription in HAPI: order is not guaranteed. Shuffle it all.
    Collections.shuffle(notifications, random);
    List<Runnable> deletes = new ArrayList<>();
    for (String key : deleted) {
      String[] parts = key.split("/");
      deletes.add(() -> assertThat(source.delete(parts[0], parts[1]).status()).isEqualTo(200));
    }
    ExecutorService senders = Executors.newFixedThreadPool(16);
    List<Future<?>> sent = new ArrayList<>();
    notifications.forEach(n -> sent.add(senders.submit(n)));
    for (Future<?> future : sent) {
      future.get(60, TimeUnit.SECONDS);
    }
    // Deletes come after the resource's updates on the source, as on HAPI.
    sent.clear();
    deletes.forEach(d -> sent.add(senders.submit(d)));
    for (Future<?> future : sent) {
      future.get(60, TimeUnit.SECONDS);
    }
    senders.shutdown();

    awaitDrained();
    for (Map.Entry<String, Long> truth : latest.entrySet()) {
      String[] key = truth.getKey().split("/");
      if (deleted.contains(truth.getKey())) {
        assertThat(pathling.rowCount(key[0], key[1])).as("%s deleted", truth.getKey()).isZero();
      } else {
        assertThat(pathling.rowCount(key[0], key[1])).as("%s rows", truth.getKey()).isEqualTo(1);
        assertThat(versionOf(pathling.current(key[0], key[1]).orElseThrow()))
            .as("%s version", truth.getKey())
            .isEqualTo(Long.toString(truth.getValue()));
      }
    }
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(pathling.conflicts()).as("overlapping writes to one type").isZero();
    assertNoBundleRepeatsAnId();
    assertThat(pathling.totalRows()).isEqualTo(latest.size() - deleted.size());
    int changes = notifications.size() + deletes.size();
    System.out.printf(
        "stream: %d notifications -> %d requests to Pathling (%.1f per 1,000 changes)%n",
        changes, pathling.writes().size(), 1000.0 * pathling.writes().size() / changes);
  }

  @Test
  void manyUpdatesOfOneResource_whilePathlingIsBusy_areForwardedAsTheLatestVersionOnly()
      throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.setWriteDelay(Duration.ofSeconds(1), Duration.ZERO);
    for (long v = 1; v <= 100; v++) {
      assertThat(source.put("Patient", "busy", v).status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(30))
        .until(() -> pathling.current("Patient", "busy").map(p -> versionOf(p).equals("100")).orElse(false));
    awaitDrained();
    assertThat(pathling.writes()).as("100 versions coalesced").hasSizeLessThanOrEqualTo(3);
    assertThat(pathling.rowCount("Patient", "busy")).isEqualTo(1);
  }

  @Test
  void anOlderVersionArrivingAfterANewerOneWasForwarded_isNotSent() throws Exception {
    startRelay(ForwardMode.BATCH);
    source.put("Observation", "o1", 5);
    await().atMost(Duration.ofSeconds(20))
        .until(() -> pathling.current("Observation", "o1").isPresent());
    awaitDrained();
    int writes = pathling.writes().size();
    assertThat(source.put("Observation", "o1", 4).status()).isEqualTo(200);
    assertThat(relay.outbox().stats().staleDrops()).isEqualTo(1);
    assertThat(relay.outbox().stats().pending()).isZero();
    assertThat(pathling.writes()).hasSize(writes);
    assertThat(versionOf(pathling.current("Observation", "o1").orElseThrow())).isEqualTo("5");
  }

  @Test
  void deleteOfAResourcePathlingDoesNotHave_countsAsDelivered_afterOneSearchAndNoDelete() throws Exception {
    startRelay(ForwardMode.BATCH);
    assertThat(source.delete("Patient", "never-there").status()).isEqualTo(200);
    awaitDrained();
    assertThat(pathling.writes()).as("a DELETE of an absent id costs Pathling 1.2-1.5 s").isEmpty();
    assertThat(pathling.requests()).anySatisfy(r -> assertThat(r.query()).contains("fhirPath"));
    assertThat(relay.outbox().stats().deadLetters()).isZero();
  }

  @Test
  void pendingChanges_areForwardedByTheNextProcessOnTheSameDataDir() throws Exception {
    pathling.goDown();
    startRelay(ForwardMode.BATCH);
    for (int i = 0; i < 50; i++) {
      assertThat(source.put("Patient", "p" + i, 1).status()).isEqualTo(200);
    }
    relay.close();
    relay = null;
    pathling.comeBack();
    assertThat(pathling.totalRows()).isZero();

    startRelay(ForwardMode.BATCH);
    await().atMost(Duration.ofSeconds(30)).until(() -> pathling.ids("Patient").size() == 50);
    awaitDrained();
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void pathlingDown_receiverKeepsAcknowledging_circuitOpens_andEverythingDrainsOnRecovery()
      throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.goDown();
    for (int i = 0; i < 200; i++) {
      assertThat(source.put("Condition", "c" + i, 1).status()).isEqualTo(200);
    }
    await("circuit opens")
        .atMost(Duration.ofSeconds(30))
        .until(() -> relay.forwarder().status().circuitState().equals("OPEN"));
    assertThat(relay.outbox().stats().pending()).isEqualTo(200);

    pathling.comeBack();
    await().atMost(Duration.ofSeconds(60)).until(() -> pathling.ids("Condition").size() == 200);
    awaitDrained();
    assertThat(relay.forwarder().status().circuitState()).isIn("CLOSED", "HALF_OPEN");
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void serviceUnavailableWithRetryAfter_isRetriedAfterTheGivenWait() throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.failNext(1, 503, Duration.ofSeconds(1));
    source.put("Patient", "retry-after", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.current("Patient", "retry-after").isPresent());
    List<RecordedRequest> writes = pathling.writes();
    assertThat(writes).hasSize(2);
    assertThat(writes.get(0).status()).isEqualTo(503);
    assertThat(Duration.between(writes.get(0).end(), writes.get(1).start()))
        .as("waited for Retry-After")
        .isGreaterThanOrEqualTo(Duration.ofMillis(900));
  }

  @Test
  void serverErrors_areRetried_untilPathlingAccepts() throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.failNext(2, 500, null);
    source.put("Encounter", "e1", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.current("Encounter", "e1").isPresent());
    awaitDrained();
  }

  @Test
  void aResourcePathlingRefuses_goesToDeadLetters_whileTheRestOfItsBatchArrives()
      throws Exception {
    startRelay(ForwardMode.BATCH);
    pathling.rejectWhen(resource -> resource.getIdElement().getIdPart().equals("bad"));
    pathling.goDown(); // let a batch build up, so the refusal hits a bundle of many
    for (int i = 0; i < 30; i++) {
      source.put("Patient", "ok" + i, 1);
    }
    source.put("Patient", "bad", 1);
    pathling.comeBack();
    await().atMost(Duration.ofSeconds(30)).until(() -> pathling.ids("Patient").size() == 30);
    awaitDrained();
    assertThat(pathling.rowCount("Patient", "bad")).isZero();
    assertThat(relay.outbox().list(10))
        .singleElement()
        .satisfies(letter -> {
          assertThat(letter.change().key().toString()).isEqualTo("Patient/bad");
          assertThat(letter.status()).isEqualTo(400);
          assertThat(letter.reason()).contains("OperationOutcome");
        });
    assertThat(relay.outbox().stats().deadLetters()).isEqualTo(1);
    assertNoBundleRepeatsAnId();
  }

  @Test
  void updateMode_sendsOnePutPerResource_neverTwoAtOnceForAType() throws Exception {
    startRelay(ForwardMode.UPDATE);
    pathling.setWriteDelay(Duration.ofMillis(20), Duration.ZERO);
    for (int i = 0; i < 20; i++) {
      source.put("Immunization", "i" + i, 1);
      source.put("AllergyIntolerance", "a" + i, 2);
    }
    awaitDrained();
    assertThat(pathling.ids("Immunization")).hasSize(20);
    assertThat(pathling.ids("AllergyIntolerance")).hasSize(20);
    assertThat(pathling.writes()).allSatisfy(w -> {
      assertThat(w.method()).isEqualTo("PUT");
      assertThat(w.status()).isEqualTo(200);
    });
    assertThat(pathling.conflicts()).isZero();
  }
}
