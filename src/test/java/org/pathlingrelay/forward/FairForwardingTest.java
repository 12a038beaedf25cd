package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RecordedRequest;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ForwardingSettings;

/**
 * Every type gets its turn, end to end: a real relay (Jetty, SQLite file, forwarder) fed a steady
 * stream of HAPI-shaped notifications over HTTP, forwarding into a fake Pathling whose every
 * request costs enough that the busy types are always backlogged. A lone change of a quiet type
 * must reach Pathling while the stream is still running, within a few request times.
 */
class FairForwardingTest {

  /** Per request: Pathling's real cost is seconds; this keeps the test short but the types busy. */
  private static final Duration REQUEST_COST = Duration.ofMillis(400);
  private static final Duration RESOURCE_COST = Duration.ofMillis(1);
  /** Hot ids: each is updated again while its previous version is in flight. */
  private static final int HOT_IDS = 10;
  /** Every this many notifications of a type, one of its resources is created, then deleted. */
  private static final int DELETE_EVERY = 20;

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private HapiNotifier source;
  private ScheduledExecutorService stream;
  private final Map<String, AtomicLong> sentPerType = new ConcurrentHashMap<>();
  /** A notification the relay did not acknowledge (a scheduled task would swallow it). */
  private final List<String> refused = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() throws InterruptedException {
    stopStream();
    if (relay != null) {
      relay.close();
    }
  }

  private void startRelay(int parallelTypes) throws Exception {
    RelayConfig base = RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH);
    ForwardingSettings forwarding = base.forwarding();
    relay = RelayHarness.start(new RelayConfig(base.receiver(), base.dataDir(),
        new ForwardingSettings(forwarding.pathlingUrl(), forwarding.pathlingTokens(), forwarding.pathlingTimeout(),
            forwarding.mode(), forwarding.batchMax(), forwarding.linger(), parallelTypes, forwarding.resilience())));
    source = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    pathling.setWriteDelay(REQUEST_COST, RESOURCE_COST);
  }

  /**
   * Starts, per type, a notification every {@code period}: updates of a few hot ids with rising
   * versions, and now and then a resource created and, a few notifications later, deleted.
   */
  private void startStream(List<String> types, Duration period) {
    stream = Executors.newScheduledThreadPool(2);
    for (String type : types) {
      AtomicLong step = sentPerType.computeIfAbsent(type, t -> new AtomicLong());
      stream.scheduleAtFixedRate(() -> {
        long n = step.getAndIncrement();
        HapiNotifier.Answer answer;
        if (n % DELETE_EVERY == 0) {
          answer = source.put(type, "gone-" + n / DELETE_EVERY, 1);
        } else if (n % DELETE_EVERY == DELETE_EVERY / 2) {
          answer = source.delete(type, "gone-" + n / DELETE_EVERY);
        } else {
          answer = source.put(type, "hot-" + n % HOT_IDS, n + 1);
        }
        if (answer.status() != 200) {
          refused.add(type + " #" + n + " -> " + answer.status());
        }
      }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void stopStream() throws InterruptedException {
    if (stream != null) {
      stream.shutdown();
      assertThat(stream.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
      stream = null;
      assertThat(refused).as("notifications the relay refused").isEmpty();
    }
  }

  private boolean streamRunning() {
    return stream != null && !stream.isShutdown();
  }

  /** Waits until every streamed type has a backlog piling up behind a request in flight. */
  private void awaitBacklogged(List<String> types) {
    await("every streamed type backlogged")
        .atMost(Duration.ofSeconds(20))
        .until(() -> relay.outbox().stats().pending() > 2L * types.size()
            && types.stream().allMatch(t -> sentPerType.get(t).get() > 2 * HOT_IDS));
  }

  /** When the first write that carried {@code reference} was answered, once it is recorded. */
  private static Optional<Instant> firstWriteOf(String reference) {
    return pathling.writes().stream()
        .filter(w -> w.succeeded() && w.references().contains(reference))
        .map(RecordedRequest::end)
        .min(Instant::compareTo);
  }

  /** Waits, at most {@code bound}, until {@code reference} was written to Pathling; returns when. */
  private static Instant awaitWritten(String reference, String alias, Duration bound) {
    return await(alias)
        .atMost(bound)
        .pollInterval(Duration.ofMillis(20))
        .until(() -> firstWriteOf(reference), Optional::isPresent)
        .orElseThrow();
  }

  /** After the stream: every type ends with the source's latest state, deletes included. */
  private void assertDrainedToTheSourcesState(List<String> types) {
    await("outbox drained")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> relay.outbox().stats().pending() == 0);
    for (String type : types) {
      long sent = sentPerType.get(type).get();
      for (long n = 0; n < sent; n++) {
        if (n % DELETE_EVERY == DELETE_EVERY / 2) {
          assertThat(pathling.rowCount(type, "gone-" + n / DELETE_EVERY)).as("%s deleted", type).isZero();
        }
      }
      long lastHot = sent - 1;
      while (lastHot % DELETE_EVERY == 0 || lastHot % DELETE_EVERY == DELETE_EVERY / 2) {
        lastHot--;
      }
      assertThat(pathling.current(type, "hot-" + lastHot % HOT_IDS).orElseThrow().getMeta().getVersionId())
          .as("%s/hot-%d latest version", type, lastHot % HOT_IDS)
          .isEqualTo(Long.toString(lastHot + 1));
    }
    assertThat(pathling.conflicts()).as("overlapping writes to one type").isZero();
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void onePathlingSlot_loneChangeOfAQuietType_arrivesWhileABusyTypeKeepsStreaming() throws Exception {
    startRelay(1);
    List<String> busy = List.of("Observation");
    startStream(busy, Duration.ofMillis(20));
    awaitBacklogged(busy);

    Instant sent = Instant.now();
    assertThat(source.put("Patient", "x", 1).status()).isEqualTo(200);
    // The Observation turn in flight (a batch and a delete), then the Patient: a few request times.
    Instant arrived = awaitWritten("Patient/x",
        "Patient/x in Pathling while Observations keep coming", REQUEST_COST.multipliedBy(8));
    assertThat(streamRunning()).isTrue();
    await("Observations forwarded again after the Patient")
        .atMost(REQUEST_COST.multipliedBy(8))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> pathling.writes().stream()
            .filter(w -> w.succeeded() && w.start().isAfter(arrived))
            .anyMatch(w -> w.references().stream().anyMatch(r -> r.startsWith("Observation/"))));
    System.out.printf("one slot: Patient/x reached Pathling %d ms after it was sent%n",
        Duration.between(sent, arrived).toMillis());

    stopStream();
    assertDrainedToTheSourcesState(busy);
  }

  @Test
  void moreBusyTypesThanSlots_everyTypeIsForwardedWhileTheStreamRuns_andALoneChangeArrivesSoon()
      throws Exception {
    startRelay(4);
    // Alphabetically Patient comes after the first four, and so do the last four busy types.
    List<String> busy = List.of("AllergyIntolerance", "Condition", "DiagnosticReport", "Encounter",
        "Immunization", "MedicationRequest", "Observation", "Procedure");
    Instant streamStarted = Instant.now();
    startStream(busy, Duration.ofMillis(100));
    awaitBacklogged(busy);

    Instant sent = Instant.now();
    assertThat(source.put("Patient", "x", 1).status()).isEqualTo(200);
    // Nine types, four slots: at most two turns of others, each up to two requests, before Patient.
    Instant arrived = awaitWritten("Patient/x",
        "Patient/x in Pathling while eight types keep streaming", REQUEST_COST.multipliedBy(12));
    assertThat(streamRunning()).isTrue();
    await("every busy type forwarded while the stream runs")
        .atMost(REQUEST_COST.multipliedBy(12))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> busy.stream().allMatch(type -> pathling.writes().stream()
            .filter(w -> w.succeeded() && w.start().isAfter(streamStarted))
            .anyMatch(w -> w.references().stream().anyMatch(r -> r.startsWith(type + "/")))));
    assertThat(streamRunning()).isTrue();
    System.out.printf("four slots, nine types: Patient/x reached Pathling %d ms after it was sent%n",
        Duration.between(sent, arrived).toMillis());

    stopStream();
    assertDrainedToTheSourcesState(busy);
  }

  @Test
  void onePathlingSlot_aBacklogOfDeletes_doesNotKeepTheSlotFromALoneChangeOfAnotherType()
      throws Exception {
    startRelay(1);
    int deletes = 20;
    for (int i = 0; i < deletes; i++) {
      assertThat(source.put("Observation", "o" + i, 1).status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Observation").size() == deletes);
    // A bulk import holding Observation lets its deletes pile up; each is a request of its own.
    try (AutoCloseable held = relay.forwarder().hold(Set.of("Observation"))) {
      for (int i = 0; i < deletes; i++) {
        assertThat(source.delete("Observation", "o" + i).status()).isEqualTo(200);
      }
    }
    Instant sent = Instant.now();
    assertThat(source.put("Patient", "x", 1).status()).isEqualTo(200);
    // One short Observation turn, then the Patient; not all twenty deletes first.
    Instant arrived = awaitWritten("Patient/x",
        "Patient/x in Pathling while Observation deletes are still queued", REQUEST_COST.multipliedBy(8));
    assertThat(pathling.ids("Observation")).as("deletes still to go").isNotEmpty();
    System.out.printf("one slot, %d deletes queued: Patient/x reached Pathling %d ms after it was sent%n",
        deletes, Duration.between(sent, arrived).toMillis());

    await("every delete arrives").atMost(Duration.ofSeconds(60))
        .until(() -> pathling.ids("Observation").isEmpty());
    assertThat(pathling.conflicts()).isZero();
  }
}
