package org.pathlingrelay.forward;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import org.pathlingrelay.outbox.OutboxReader;
import org.pathlingrelay.outbox.OutboxUnavailableException;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.outbox.TypeBacklog;
import org.pathlingrelay.pathling.PathlingCalls;
import org.pathlingrelay.pathling.PathlingWriter;
import org.pathlingrelay.pathling.RetriableWriteException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains the outbox into Pathling. One coordinator thread decides, per resource type, when to
 * send; at most one request per type is in flight (Pathling fails overlapping writes to a type),
 * while different types go in parallel. While a request is in flight the type's changes pile up,
 * and the next request takes all of them up to the batch maximum: under load batches grow by
 * themselves, at rest a change waits at most the linger. Which types go next is {@link
 * TypeScheduler}'s decision (longest-waiting first); what a turn sends is {@link Turn}'s.
 */
public final class Forwarder implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Forwarder.class);
  /** Bounds how often the backlog is scanned when commits arrive continuously. */
  private static final Duration MIN_SCAN_INTERVAL = Duration.ofMillis(20);
  private static final Duration IDLE_RESCAN = TypeScheduler.IDLE;
  /** Pathling unreachable this long is an error worth a human's attention (and a Sentry event). */
  private static final Duration LONG_OUTAGE = Duration.ofMinutes(5);
  /** While Pathling fails, the log says so this often: at once, then as a reminder. */
  private static final Duration OUTAGE_REMINDER = Duration.ofMinutes(1);

  /**
   * @param parallelTypes how many types may be in flight at once
   * @param backOff how long a type rests after its requests kept failing
   */
  public record Settings(
      ForwardMode mode, int batchMax, Duration linger, int parallelTypes, Duration backOff) {

    public Settings {
      if (batchMax < 1) {
        throw new IllegalArgumentException("batch max must be at least 1");
      }
      if (parallelTypes < 1) {
        throw new IllegalArgumentException("parallel types must be at least 1");
      }
    }
  }

  private final OutboxReader outbox;
  private final PathlingWriter writer;
  private final PathlingCalls calls;
  private final Settings settings;
  private final InstantSource clock;
  private final TypeScheduler scheduler;
  private final ForwardMetrics metrics;
  private final ExecutorService deliveries;
  private final Thread coordinator;

  private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
  /** Types another writer (a bulk import) owns for now; their changes wait in the outbox. */
  private final Map<String, Integer> held = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger holdingAll = new java.util.concurrent.atomic.AtomicInteger();
  private final Map<String, Instant> restingUntil = new ConcurrentHashMap<>();
  /** When each type's last turn ended: it waits for its next turn from then. */
  private final Map<String, Instant> turnEndedAt = new ConcurrentHashMap<>();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private boolean signalled;
  private volatile boolean running;
  private volatile Instant unhealthySince;
  private volatile boolean outageReported;
  private volatile Instant outageRemindedAt;
  private volatile String lastFailure = "no answer";

  public Forwarder(
      OutboxReader outbox,
      PathlingWriter writer,
      PathlingCalls calls,
      Settings settings,
      InstantSource clock,
      MeterRegistry meters) {
    this.outbox = outbox;
    this.writer = writer;
    this.calls = calls;
    this.settings = settings;
    this.clock = clock;
    this.scheduler = new TypeScheduler(settings.parallelTypes(), settings.batchMax(), settings.linger());
    this.metrics = new ForwardMetrics(clock, meters);
    this.deliveries =
        Executors.newFixedThreadPool(
            settings.parallelTypes(),
            runnable -> {
              Thread thread = new Thread(runnable, "forward-delivery");
              thread.setDaemon(true);
              return thread;
            });
    this.coordinator = new Thread(this::coordinate, "forward-coordinator");
    coordinator.setDaemon(true);
    calls.breaker().getEventPublisher().onError(event -> lastFailure = String.valueOf(event.getThrowable().getMessage()));
    calls.breaker().getEventPublisher().onStateTransition(event -> {
      if (event.getStateTransition().getToState() == CircuitBreaker.State.CLOSED) {
        if (outageReported) {
          log.info("Pathling answers again; forwarding resumed");
        }
        unhealthySince = null;
        outageReported = false;
        outageRemindedAt = null;
      } else if (unhealthySince == null) {
        unhealthySince = clock.instant();
      }
      wake();
    });
  }

  public void start() {
    running = true;
    coordinator.start();
  }

  /** Something changed (a commit, a finished request): look again soon. */
  public void wake() {
    lock.lock();
    try {
      signalled = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops sending the given types (all types when empty) until the returned handle is closed, and
   * waits until no request for them is in flight. A bulk import into Pathling uses it: Pathling
   * fails overlapping writes to a type, and live changes queued meanwhile are sent after the
   * import, so a newer live version is never overwritten by the import's older one.
   */
  public AutoCloseable hold(Set<String> types) throws InterruptedException {
    synchronized (held) {
      if (types.isEmpty()) {
        holdingAll.incrementAndGet();
      } else {
        types.forEach(type -> held.merge(type, 1, Integer::sum));
      }
    }
    // A delivery leaves inFlight and then signals (wake), so checking under the lock loses no wake-up.
    lock.lock();
    try {
      while (inFlight.stream().anyMatch(type -> types.isEmpty() || types.contains(type))) {
        changed.await();
      }
    } finally {
      lock.unlock();
    }
    return () -> {
      if (types.isEmpty()) {
        holdingAll.decrementAndGet();
      } else {
        types.forEach(type -> held.computeIfPresent(type, (t, n) -> n == 1 ? null : n - 1));
      }
      wake();
    };
  }

  public ForwarderStatus status() {
    Instant now = clock.instant();
    Set<String> resting = new TreeSet<>();
    restingUntil.forEach((type, until) -> {
      if (until.isAfter(now)) {
        resting.add(type);
      }
    });
    return new ForwarderStatus(
        settings.mode().name().toLowerCase(),
        calls.breaker().getState().name(),
        new TreeSet<>(inFlight),
        resting,
        metrics.counts());
  }

  private void coordinate() {
    while (running) {
      Duration wait;
      try {
        wait = dispatchDue();
      } catch (OutboxUnavailableException e) {
        log.error("Cannot read the outbox: {}", e.getMessage());
        wait = IDLE_RESCAN;
      }
      if (!awaitChange(wait)) {
        return;
      }
    }
  }

  /** Sends every type that is due; returns how long until the next one may be. */
  private Duration dispatchDue() {
    reportOutage(clock.instant());
    if (!breakerPermits()) {
      return IDLE_RESCAN;
    }
    List<TypeBacklog> backlog = outbox.backlog(settings.batchMax());
    Set<String> heldNow;
    synchronized (held) {
      heldNow = holdingAll.get() > 0
          ? backlog.stream().map(TypeBacklog::type).collect(Collectors.toSet())
          : Set.copyOf(held.keySet());
    }
    TypeScheduler.Decision decision = scheduler.decide(
        backlog, Set.copyOf(inFlight), heldNow, Map.copyOf(restingUntil), Map.copyOf(turnEndedAt),
        clock.instant());
    for (String type : decision.send()) {
      // Checked again and marked in flight together with hold(), so a hold never misses a dispatch.
      synchronized (held) {
        if (holdingAll.get() == 0 && !held.containsKey(type)) {
          dispatch(type);
        }
      }
    }
    return decision.next();
  }

  /** Says at once, then once a minute, that Pathling fails and why; after a long outage, an error. */
  private void reportOutage(Instant now) {
    Instant since = unhealthySince;
    if (since == null) {
      return;
    }
    if (!outageReported && Duration.between(since, now).compareTo(LONG_OUTAGE) > 0) {
      outageReported = true;
      outageRemindedAt = now;
      log.error("Pathling has been failing since {} (circuit {}): {}; changes are kept in the outbox until it"
          + " recovers", since, calls.breaker().getState(), lastFailure);
    } else if (outageRemindedAt == null || !now.isBefore(outageRemindedAt.plus(OUTAGE_REMINDER))) {
      outageRemindedAt = now;
      log.warn("Pathling is not taking changes (failing since {}, circuit {}): {}; changes are kept in the"
          + " outbox and sent when it answers", since, calls.breaker().getState(), lastFailure);
    }
  }

  private boolean breakerPermits() {
    CircuitBreaker.State state = calls.breaker().getState();
    return state != CircuitBreaker.State.OPEN && state != CircuitBreaker.State.FORCED_OPEN;
  }

  private void dispatch(String type) {
    inFlight.add(type);
    deliveries.execute(() -> deliver(type));
  }

  private void deliver(String type) {
    Instant started = clock.instant();
    try {
      List<PendingChange> changes =
          Turn.take(outbox.oldest(type, Turn.readLimit(settings.mode(), settings.batchMax())), settings.mode());
      if (changes.isEmpty()) {
        return;
      }
      TypeDelivery.Report report =
          new TypeDelivery(outbox, writer, calls, settings.mode(), metrics).deliver(type, changes);
      restingUntil.remove(type);
      log.info(
          "Forwarded {} {} in {} request(s), {} ms{}",
          report.delivered(),
          type,
          report.requests(),
          Duration.between(started, clock.instant()).toMillis(),
          report.deadLettered() > 0 ? ", " + report.deadLettered() + " dead-lettered" : "");
    } catch (CallNotPermittedException e) {
      restingUntil.put(type, clock.instant().plusSeconds(1));
    } catch (RetriableWriteException | OutboxUnavailableException e) {
      restingUntil.put(type, clock.instant().plus(settings.backOff()));
      log.warn("Forwarding {} paused for {}: {}", type, settings.backOff(), e.getMessage());
    } catch (RuntimeException e) {
      restingUntil.put(type, clock.instant().plus(settings.backOff()));
      log.error("Forwarding {} failed unexpectedly; will retry", type, e);
    } finally {
      // Before leaving inFlight: a decision that sees the type free sees when its turn ended.
      turnEndedAt.put(type, clock.instant());
      inFlight.remove(type);
      wake();
    }
  }

  /**
   * Waits for a signal or the timeout, but never rescans sooner than the minimum interval, so a
   * stream of commits does not turn into a stream of backlog queries. False when stopping. Timed
   * with System.nanoTime, not the injected clock: Condition.awaitNanos waits in monotonic time,
   * and a wall clock can jump; the decisions themselves read the injected clock.
   */
  private boolean awaitChange(Duration timeout) {
    long now = System.nanoTime();
    long floorEnd = now + MIN_SCAN_INTERVAL.toNanos();
    long end = now + Math.max(MIN_SCAN_INTERVAL.toNanos(), timeout.toNanos());
    lock.lock();
    try {
      while (running) {
        now = System.nanoTime();
        if (now >= floorEnd && (signalled || now >= end)) {
          break;
        }
        changed.awaitNanos((signalled ? floorEnd : end) - now);
      }
      signalled = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
    return running;
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    wake();
    coordinator.join(TimeUnit.SECONDS.toMillis(5));
    deliveries.shutdownNow();
    deliveries.awaitTermination(10, TimeUnit.SECONDS);
  }
}
