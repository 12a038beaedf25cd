package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.DeliveryQueue;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.TypeBacklog;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.pathling.PathlingCalls;
import org.pathlingrelay.pathling.PathlingWriter;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.pathling.RetriableWriteException;

/**
 * The pause protocol with real threads: once {@link Forwarder#hold} returns, no write of a held
 * type is in flight or starts until the hold is released, and a type never has two writes at once.
 */
class ForwarderHoldTest {

  private static final List<String> TYPES = List.of("Condition", "Encounter", "Observation", "Patient", "Procedure");

  private final MemoryOutbox outbox = new MemoryOutbox();
  private final WatchingWriter writer = new WatchingWriter();
  private Forwarder forwarder;

  @AfterEach
  void stop() throws InterruptedException {
    if (forwarder != null) {
      forwarder.close();
    }
  }

  private void startForwarder(int parallelTypes) {
    PathlingCalls calls = new PathlingCalls(
        ResilienceSettings.DEFAULTS, RetryRegistry.ofDefaults(), CircuitBreakerRegistry.ofDefaults());
    forwarder = new Forwarder(outbox, writer, calls,
        new Forwarder.Settings(ForwardMode.BATCH, 10, Linger.of(Duration.ZERO), parallelTypes, Duration.ofMillis(100)),
        InstantSource.system(), new SimpleMeterRegistry());
    outbox.onAppend = forwarder::wake;
    forwarder.start();
  }

  @Test
  void hold_waitsForTheWriteInFlight_thenNothingOfTheTypeIsSent_untilReleased() throws Exception {
    startForwarder(2);
    CountDownLatch gate = writer.gate("Patient");
    outbox.append("Patient");
    await("Patient write in flight").atMost(Duration.ofSeconds(5)).until(() -> writer.writing.contains("Patient"));

    CompletableFuture<AutoCloseable> hold = CompletableFuture.supplyAsync(() -> holding(Set.of("Patient")));
    await("hold waits for the write in flight").during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
        .until(() -> !hold.isDone());
    outbox.append("Patient");
    gate.countDown();
    AutoCloseable held = hold.get(5, TimeUnit.SECONDS);
    assertThat(writer.writing).as("no Patient write once the hold returned").doesNotContain("Patient");
    long patientWrites = writer.writes("Patient");

    outbox.append("Condition");
    await("other types go on").atMost(Duration.ofSeconds(5)).until(() -> writer.writes("Condition") == 1);
    assertThat(writer.writes("Patient")).as("Patient writes while held").isEqualTo(patientWrites);
    assertThat(outbox.pending("Patient")).isEqualTo(1);

    held.close();
    await("Patient sent once released").atMost(Duration.ofSeconds(5)).until(() -> outbox.pending("Patient") == 0);
    assertThat(writer.violations).isEmpty();
  }

  @Test
  void holdInterruptedWhileWaiting_releasesItsHold() throws Exception {
    startForwarder(2);
    CountDownLatch gate = writer.gate("Patient");
    outbox.append("Patient");
    await().atMost(Duration.ofSeconds(5)).until(() -> writer.writing.contains("Patient"));
    ExecutorService holder = Executors.newSingleThreadExecutor();
    try {
      Future<AutoCloseable> hold = holder.submit(() -> forwarder.hold(Set.of("Patient")));
      await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !hold.isDone());
      holder.shutdownNow();
      assertThat(holder.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    } finally {
      holder.shutdownNow();
    }

    outbox.append("Patient");
    gate.countDown();
    await("Patient not held by the interrupted hold").atMost(Duration.ofSeconds(5))
        .until(() -> outbox.pending("Patient") == 0);
  }

  @Test
  void manyHoldsComingAndGoing_whileChangesStream_neverAWriteOfAHeldType_norTwoWritesOfOneType()
      throws Exception {
    startForwarder(3);
    ScheduledExecutorService stream = Executors.newSingleThreadScheduledExecutor();
    stream.scheduleAtFixedRate(() -> outbox.append(TYPES.get(ThreadLocalRandom.current().nextInt(TYPES.size()))),
        0, 1, TimeUnit.MILLISECONDS);
    ExecutorService holders = Executors.newFixedThreadPool(3);
    AtomicInteger holdsTaken = new AtomicInteger();
    long until = System.currentTimeMillis() + 3_000;
    List<Future<?>> running = new ArrayList<>();
    try {
      for (int h = 0; h < 3; h++) {
        running.add(holders.submit(() -> {
          while (System.currentTimeMillis() < until) {
            Set<String> types = someTypes();
            try (AutoCloseable held = holding(types)) {
              writer.markHeld(types);
              assertThat(writer.writingAny(types)).as("a write of %s in flight once held", types).isFalse();
              long appended = outbox.appended.get();
              // Held while the stream adds changes for about a forwarder pass (not until other
              // types are written: the holders together may hold every type).
              await().pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(10))
                  .until(() -> outbox.appended.get() >= appended + 25);
              writer.unmarkHeld(types);
            }
            holdsTaken.incrementAndGet();
          }
          return null;
        }));
      }
      for (Future<?> holder : running) {
        holder.get(60, TimeUnit.SECONDS);
      }
    } finally {
      holders.shutdownNow();
      stream.shutdownNow();
    }
    await("outbox drained").atMost(Duration.ofSeconds(20)).until(() -> outbox.pendingTotal() == 0);

    assertThat(writer.violations).isEmpty();
    assertThat(holdsTaken.get()).as("holds taken").isGreaterThan(30);
    assertThat(TYPES).allSatisfy(type -> assertThat(writer.writes(type)).as(type).isPositive());
  }

  private static Set<String> someTypes() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    if (random.nextInt(10) == 0) {
      return Set.of();
    }
    String one = TYPES.get(random.nextInt(TYPES.size()));
    String two = TYPES.get(random.nextInt(TYPES.size()));
    return one.equals(two) ? Set.of(one) : Set.of(one, two);
  }

  private AutoCloseable holding(Set<String> types) {
    try {
      return forwarder.hold(types);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Records writes per type; notes any write of a type the test holds, and any two at once. */
  private static final class WatchingWriter implements PathlingWriter {
    final Set<String> writing = ConcurrentHashMap.newKeySet();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final AtomicLong total = new AtomicLong();
    private final Map<String, AtomicLong> perType = new ConcurrentHashMap<>();
    /** How many holds the test has open per type ("" for all types). */
    private final Map<String, Integer> held = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();

    CountDownLatch gate(String type) {
      return gates.computeIfAbsent(type, t -> new CountDownLatch(1));
    }

    void markHeld(Set<String> types) {
      (types.isEmpty() ? Set.of("") : types).forEach(type -> held.merge(type, 1, Integer::sum));
    }

    void unmarkHeld(Set<String> types) {
      (types.isEmpty() ? Set.of("") : types)
          .forEach(type -> held.computeIfPresent(type, (t, n) -> n == 1 ? null : n - 1));
    }

    boolean writingAny(Set<String> types) {
      return types.isEmpty() ? !writing.isEmpty() : writing.stream().anyMatch(types::contains);
    }

    long writes(String type) {
      return perType.computeIfAbsent(type, t -> new AtomicLong()).get();
    }

    private void write(String type) {
      if (!writing.add(type)) {
        violations.add("two writes of " + type + " at once");
      }
      try {
        if (held.containsKey(type) || held.containsKey("")) {
          violations.add("a write of " + type + " while held");
        }
        CountDownLatch gate = gates.get(type);
        if (gate != null && !gate.await(10, TimeUnit.SECONDS)) {
          violations.add("gate of " + type + " never opened");
        }
        perType.computeIfAbsent(type, t -> new AtomicLong()).incrementAndGet();
        total.incrementAndGet();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RetriableWriteException("interrupted", 0, null, e);
      } finally {
        writing.remove(type);
      }
    }

    @Override
    public void putBatch(String type, List<Change> upserts) {
      write(type);
    }

    @Override
    public void put(Change upsert) {
      write(upsert.key().type());
    }

    @Override
    public void delete(ResourceKey key) {
      write(key.type());
    }
  }

  /** An outbox in memory: one pending change per append, gone when acknowledged. */
  private static final class MemoryOutbox implements DeliveryQueue {
    final AtomicLong appended = new AtomicLong();
    volatile Runnable onAppend = () -> {};
    private final Map<Long, PendingChange> pending = new LinkedHashMap<>();
    private long seq;

    void append(String type) {
      synchronized (this) {
        seq++;
        pending.put(seq, new PendingChange(seq, Change.upsert(new ResourceKey(type, "r" + seq),
            new VersionStamp(1L, null), "{\"resourceType\":\"" + type + "\",\"id\":\"r" + seq + "\"}"),
            InstantSource.system().instant()));
      }
      appended.incrementAndGet();
      onAppend.run();
    }

    synchronized long pending(String type) {
      return pending.values().stream().filter(change -> change.key().type().equals(type)).count();
    }

    synchronized long pendingTotal() {
      return pending.size();
    }

    @Override
    public synchronized List<TypeBacklog> backlog(int countUpTo) {
      Map<String, TypeBacklog> byType = new HashMap<>();
      for (PendingChange change : pending.values()) {
        byType.merge(change.key().type(), new TypeBacklog(change.key().type(), 1, change.receivedAt()),
            (a, b) -> new TypeBacklog(a.type(), Math.min(countUpTo, a.pending() + 1), a.oldestReceivedAt()));
      }
      return List.copyOf(byType.values());
    }

    @Override
    public synchronized List<PendingChange> oldest(String type, int limit) {
      return pending.values().stream().filter(change -> change.key().type().equals(type))
          .sorted(Comparator.comparingLong(PendingChange::seq)).limit(limit).toList();
    }

    @Override
    public synchronized void acknowledge(List<PendingChange> delivered) {
      delivered.forEach(change -> pending.remove(change.seq()));
    }

    @Override
    public void sending(List<PendingChange> upserts) {}

    @Override
    public void deadLetter(PendingChange change, int status, String reason) {
      throw new AssertionError("nothing is refused here");
    }
  }
}
