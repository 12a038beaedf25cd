package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.HeapHistogram;
import org.pathlingrelay.testing.RecordedRequest;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ForwardingSettings;

/**
 * Pathling slow, silent or gone for a long while, end to end over real HTTP into a real relay
 * (Jetty, SQLite file, forwarder): the receiver keeps acknowledging at full speed, the outbox
 * grows on disk rather than in the heap, the circuit breaker opens and only probes, and everything
 * drains, once, in its latest version, when Pathling answers again.
 */
class OutageTest {

  /** Characters of narrative per resource in the long outage: 20,000 of them make ~29 MiB. */
  private static final int PADDING = 1_500;
  private static final List<String> TYPES = List.of("Patient", "Observation", "Condition", "Encounter");

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private HapiNotifier source;
  private HangingProxy proxy;

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
    if (proxy != null) {
      proxy.close();
    }
  }

  private void startRelay(String pathlingUrl, Duration pathlingTimeout, ResilienceSettings resilience)
      throws Exception {
    RelayConfig base = RelayHarness.config(dataDir, pathlingUrl, ForwardMode.BATCH);
    ForwardingSettings forwarding = base.forwarding();
    relay = RelayHarness.start(new RelayConfig(base.receiver(), base.dataDir(),
        new ForwardingSettings(forwarding.pathlingUrl(), forwarding.pathlingTokens(), pathlingTimeout,
            forwarding.mode(), forwarding.batchMax(), forwarding.linger(), forwarding.parallelTypes(), resilience)));
    source = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
  }

  private String get(String path) {
    return source.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + relay.port() + path)).GET()).body();
  }

  private String circuitState() {
    return relay.forwarder().status().circuitState();
  }

  private Duration awaitDrained(Duration atMost) {
    long start = System.nanoTime();
    await("outbox drained").atMost(atMost).pollInterval(Duration.ofMillis(50))
        .until(() -> relay.outbox().stats().pending() == 0 && relay.forwarder().status().typesInFlight().isEmpty());
    return Duration.ofNanos(System.nanoTime() - start);
  }

  /** Pathling holds exactly one row per resource, in the last version the source sent. */
  private static void assertPathlingHoldsTheLatestVersions(Map<String, Long> latest) {
    for (Map.Entry<String, Long> truth : latest.entrySet()) {
      String[] key = truth.getKey().split("/");
      assertThat(pathling.rowCount(key[0], key[1])).as("rows of %s", truth.getKey()).isEqualTo(1);
      assertThat(pathling.current(key[0], key[1]).orElseThrow().getMeta().getVersionId())
          .as("version of %s", truth.getKey()).isEqualTo(Long.toString(truth.getValue()));
    }
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(pathling.totalRows()).isEqualTo(latest.size());
  }

  /** No two writes to one type overlapped in time at Pathling (it would fail one of them). */
  private static void assertOneWritePerTypeInFlight() {
    assertThat(pathling.conflicts()).as("writes Pathling failed as overlapping").isZero();
    Map<String, List<RecordedRequest>> byType = pathling.writes().stream()
        .filter(w -> !w.references().isEmpty())
        .collect(Collectors.groupingBy(w -> w.references().get(0).split("/")[0]));
    byType.forEach((type, writes) -> {
      List<RecordedRequest> ordered = writes.stream().sorted(Comparator.comparing(RecordedRequest::start)).toList();
      for (int i = 1; i < ordered.size(); i++) {
        assertThat(ordered.get(i).start()).as("a %s write began before the previous one ended", type)
            .isAfterOrEqualTo(ordered.get(i - 1).end());
      }
    });
  }

  private static void runAll(int threads, List<Runnable> tasks) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      tasks.forEach(task -> futures.add(pool.submit(task)));
      for (Future<?> future : futures) {
        future.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void slowPathling_receiverKeepsAcknowledgingAtFullSpeed_everythingArrives_oneWritePerTypeInFlight()
      throws Exception {
    // Pathling takes ~5 s per write and more under load; here every write takes 4 s, slower than
    // any sender would wait, yet within the relay's 30 s timeout: slow, not failing.
    pathling.setWriteDelay(Duration.ofSeconds(4), Duration.ZERO);
    startRelay(pathling.baseUrl(), Duration.ofSeconds(30), RelayHarness.FAST_RETRIES);
    Map<String, Long> latest = new ConcurrentHashMap<>();
    AckLatencies acks = new AckLatencies(500_000);
    AtomicInteger refused = new AtomicInteger();
    Instant sendStart = Instant.now();
    Instant sendUntil = sendStart.plusSeconds(9);
    List<Runnable> senders = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int thread = t;
      senders.add(() -> {
        for (int n = 0; Instant.now().isBefore(sendUntil); n++) {
          // Each sender owns 50 resources of each type and sends ever newer versions of them.
          String type = TYPES.get(n % TYPES.size());
          String id = "s" + thread + "-" + ((n / TYPES.size()) % 50);
          long version = n / (TYPES.size() * 50) + 1;
          if (acks.time(() -> source.put(type, id, version).status()) != 200) {
            refused.incrementAndGet();
          }
          latest.merge(type + "/" + id, version, Math::max);
        }
      });
    }
    runAll(8, senders);
    Instant sendEnd = Instant.now();
    List<RecordedRequest> duringSending = pathling.requests().stream()
        .filter(r -> r.isWrite() && r.start().isBefore(sendEnd)).toList();

    Duration drain = awaitDrained(Duration.ofSeconds(60));
    System.out.printf("slow Pathling (4 s/write): %s; %d writes began while sending; drained %d ms after"
        + " the last notification; %d writes in all%n", acks.summary(), duringSending.size(),
        drain.toMillis(), pathling.writes().size());
    assertThat(refused.get()).as("notifications not acknowledged").isZero();
    assertThat(duringSending).as("forwarding was stuck in slow writes while the acks were timed")
        .hasSizeGreaterThanOrEqualTo(TYPES.size())
        .allSatisfy(w -> assertThat(w.duration()).isGreaterThanOrEqualTo(Duration.ofSeconds(4)));
    assertThat(acks.percentile(99)).as("ack latency p99 while every write takes 4 s")
        .isLessThan(Duration.ofSeconds(1));
    assertPathlingHoldsTheLatestVersions(latest);
    assertOneWritePerTypeInFlight();
  }

  @Test
  void hungPathling_timesOut_isRetried_circuitOpensAndOnlyProbes_andEverythingDrainsWhenItAnswers()
      throws Exception {
    proxy = new HangingProxy(pathling.port());
    Duration openWait = Duration.ofSeconds(2);
    startRelay(proxy.baseUrl(), Duration.ofSeconds(1), new ResilienceSettings(
        3, Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(5), openWait, 10));
    Map<String, Long> latest = new ConcurrentHashMap<>();
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      keys.add("Patient/p" + i);
      keys.add("Observation/o" + i);
    }
    AckLatencies acks = new AckLatencies(100_000);
    AtomicInteger refused = new AtomicInteger();
    Runnable sendNextVersions = () -> keys.forEach(key -> {
      long version = latest.merge(key, 1L, Long::sum);
      String[] parts = key.split("/");
      if (acks.time(() -> source.put(parts[0], parts[1], version).status()) != 200) {
        refused.incrementAndGet();
      }
    });
    sendNextVersions.run();
    List<String> deleted = List.of("Patient/d1", "Patient/d2", "Observation/d3");
    for (String key : deleted) {
      String[] parts = key.split("/");
      assertThat(source.put(parts[0], parts[1], 1).status()).isEqualTo(200);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.totalRows() == keys.size() + deleted.size());

    proxy.hang();
    Instant hangStart = Instant.now();
    // Deletes go first, one request each (through HAPI's client, unlike the batches).
    for (String key : deleted) {
      String[] parts = key.split("/");
      if (acks.time(() -> source.delete(parts[0], parts[1]).status()) != 200) {
        refused.incrementAndGet();
      }
    }
    Instant opened = null;
    while (Duration.between(hangStart, Instant.now()).compareTo(Duration.ofSeconds(20)) < 0) {
      sendNextVersions.run();
      if (circuitState().equals("OPEN")) {
        opened = Instant.now();
        break;
      }
      Thread.sleep(100);
    }
    assertThat(opened).as("the circuit opened while Pathling was silent").isNotNull();
    assertThat(get("/status")).contains("\"circuitState\" : \"OPEN\"");
    assertThat(get("/metrics")).contains("resilience4j_circuitbreaker_state{name=\"pathling\",state=\"open\"} 1.0");
    Instant observeUntil = opened.plusSeconds(8);
    while (Instant.now().isBefore(observeUntil)) {
      sendNextVersions.run();
      Thread.sleep(100);
    }
    List<HangingProxy.Hung> hung = proxy.hungConnections();
    Instant openedAt = opened;
    List<HangingProxy.Hung> whileOpen = hung.stream().filter(h -> h.accepted().isAfter(openedAt)).toList();
    int mostAtOnce = proxy.mostAtOnceSince(opened);

    proxy.pass();
    Instant recovered = Instant.now();
    Duration drain = awaitDrained(Duration.ofSeconds(60));
    System.out.printf("hung Pathling (1 s timeout, %s open wait): %s; %d requests went unanswered, "
        + "%d of them in the 8 s after the circuit opened (at most %d at once); drained %d ms after "
        + "Pathling answered again%n", openWait, acks.summary(), hung.size(), whileOpen.size(),
        mostAtOnce, Duration.between(recovered, Instant.now()).toMillis(), drain.toMillis());

    assertThat(refused.get()).as("notifications not acknowledged").isZero();
    assertThat(acks.percentile(99)).as("ack latency p99 while Pathling is silent").isLessThan(Duration.ofSeconds(1));
    assertThat(hung).as("requests that met the silence").hasSizeGreaterThanOrEqualTo(2)
        .filteredOn(h -> h.closed() != null)
        .isNotEmpty()
        .allSatisfy(h -> assertThat(h.waited()).as("the relay gave up after --pathling-timeout")
            .isBetween(Duration.ofMillis(900), Duration.ofSeconds(5)));
    // Open, the breaker lets one probe through per open wait; each probe waits out the timeout.
    long probesAtMost = 8_000 / (openWait.toMillis() + 1_000) + 1;
    assertThat(whileOpen).as("only probes reach Pathling while the circuit is open")
        .isNotEmpty().hasSizeLessThanOrEqualTo((int) probesAtMost);
    assertThat(mostAtOnce).as("probes at once").isLessThanOrEqualTo(1);
    assertPathlingHoldsTheLatestVersions(latest);
    for (String key : deleted) {
      assertThat(pathling.rowCount(key.split("/")[0], key.split("/")[1])).as("%s deleted", key).isZero();
    }
    assertOneWritePerTypeInFlight();
    assertThat(circuitState()).isIn("CLOSED", "HALF_OPEN");
  }

  private static String padded(String type, String id, long version, int padding) {
    return "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" + version
        + "\"},\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">"
        + "x".repeat(padding) + "</div>\"}}";
  }

  /**
   * Sends version 1 of {@code perType} resources of each type. The tasks live only in here, so
   * that the heap measured afterwards holds none of the test's own notifications.
   */
  private void sendOnePerResource(int perType, AckLatencies acks, AtomicInteger refused) throws Exception {
    List<Runnable> notifications = new ArrayList<>();
    for (int i = 0; i < perType; i++) {
      for (String type : TYPES) {
        String id = "long" + i;
        notifications.add(() -> {
          if (acks.time(() -> source.put(type, id, 1, padded(type, id, 1, PADDING)).status()) != 200) {
            refused.incrementAndGet();
          }
        });
      }
    }
    runAll(16, notifications);
  }

  @Test
  @Tag("own-jvm") // Heap is measured for the whole JVM: other test classes' leftovers must not count.
  void longOutage_outboxGrowsOnDiskNotInTheHeap_andEverythingDrainsOnRecovery() throws Exception {
    // A long open wait, so that the heap can be measured while nothing is in flight.
    startRelay(pathling.baseUrl(), Duration.ofSeconds(30), new ResilienceSettings(
        3, Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofSeconds(4), 10));
    List<Runnable> warmUp = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      String id = "warm" + i;
      warmUp.add(() -> assertThat(source.put("Observation", id, 1, padded("Observation", id, 1, PADDING)).status()).isEqualTo(200));
    }
    runAll(16, warmUp);
    awaitDrained(Duration.ofSeconds(30));

    pathling.goDown();
    HeapHistogram heapBefore = HeapHistogram.take();
    int perType = 5_000;
    AckLatencies acks = new AckLatencies(perType * TYPES.size());
    AtomicInteger refused = new AtomicInteger();
    long sendStart = System.nanoTime();
    sendOnePerResource(perType, acks, refused);
    Duration sending = Duration.ofNanos(System.nanoTime() - sendStart);
    long pending = relay.outbox().stats().pending();
    long onDisk = 0;
    for (String file : List.of("relay.db", "relay.db-wal")) {
      Path path = dataDir.resolve(file);
      onDisk += Files.exists(path) ? Files.size(path) : 0;
    }

    // Measured while the circuit is open and no request holds a batch: pending rows must not be
    // in the heap. (A request in flight holds at most --batch-max rows per type.)
    HeapHistogram heapAfter = null;
    for (int attempt = 0; attempt < 20 && heapAfter == null; attempt++) {
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
          .until(() -> circuitState().equals("OPEN") && relay.forwarder().status().typesInFlight().isEmpty());
      HeapHistogram measured = HeapHistogram.take();
      if (circuitState().equals("OPEN") && relay.forwarder().status().typesInFlight().isEmpty()) {
        heapAfter = measured;
      }
    }
    long payload = (long) perType * TYPES.size() * PADDING;
    System.out.printf("long outage: %d notifications in %d ms (%s); outbox depth %d, %.1f MiB on disk;"
        + " heap after GC %.1f MiB before, %.1f MiB with the outbox full (payload %.1f MiB)%n",
        acks.count(), sending.toMillis(), acks.summary(), pending, onDisk / 1048576.0,
        heapBefore.totalBytes() / 1048576.0, heapAfter == null ? 0 : heapAfter.totalBytes() / 1048576.0,
        payload / 1048576.0);

    pathling.comeBack();
    Duration drain = awaitDrained(Duration.ofSeconds(120));
    System.out.printf("long outage: drained in %d ms after Pathling came back%n", drain.toMillis());

    assertThat(refused.get()).as("notifications not acknowledged").isZero();
    assertThat(pending).as("outbox depth while Pathling is down").isEqualTo(perType * TYPES.size());
    assertThat(onDisk).as("the outbox holds the payload on disk").isGreaterThan(payload);
    assertThat(heapAfter).as("measured while the circuit was open").isNotNull();
    HeapHistogram after = heapAfter;
    assertThat(after.growthSince(heapBefore))
        .as(() -> String.format("heap growth with %d MiB pending; grew most: %s",
            payload >> 20, after.largestGrowthSince(heapBefore, 8)))
        .isLessThan(payload / 3);
    for (String type : TYPES) {
      assertThat(pathling.ids(type)).as(type).hasSize(type.equals("Observation") ? perType + 400 : perType);
    }
    assertThat(pathling.duplicateIds()).isEmpty();
  }
}
