package org.pathlingrelay.forward;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.pathlingrelay.outbox.DeliveryQueue;
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
 * themselves, at rest a change waits at most the linger (a burst: until it pauses, or the longest linger). Which types go next, and when to look
 * again, is {@link TypeScheduler}'s pure decision (fair shares: the type that had fewest turns first); what a turn sends is
 * {@link Turn}'s.
 *
 * <p>Threads: the coordinator, and a pool of one delivery thread per parallel type. One lock
 * guards all the forwarder's state (the {@link DispatchState}, the {@link OutageLog}, whether it
 * runs, whether something changed), and its one condition says that something did. A decision and
 * the marking of its types as in flight happen in one critical section, and {@link #hold} records
 * its hold in one too, so a hold either comes first (the decision skips the held types) or sees
 * the turns the decision started and waits for them.
 */
public final class Forwarder implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Forwarder.class);
  /** How long a type rests when the breaker refused its call. */
  private static final Duration REFUSED_REST = Duration.ofSeconds(1);

  /**
   * @param parallelTypes how many types may be in flight at once
   * @param backOff how long a type rests after its requests kept failing
   */
  public record Settings(
      ForwardMode mode, int batchMax, Linger linger, int parallelTypes, Duration backOff) {

    public Settings {
      if (batchMax < 1) {
        throw new IllegalArgumentException("batch max must be at least 1");
      }
      if (parallelTypes < 1) {
        throw new IllegalArgumentException("parallel types must be at least 1");
      }
    }
  }

  private final DeliveryQueue outbox;
  private final PathlingWriter writer;
  private final PathlingCalls calls;
  private final Settings settings;
  private final InstantSource clock;
  private final TypeScheduler scheduler;
  private final ForwardMetrics metrics;
  private final ExecutorService deliveries;
  private final Thread coordinator;

  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled whenever the fields below change: a commit, a finished turn, a hold, a stop. */
  private final Condition changed = lock.newCondition();
  // Guarded by lock.
  private DispatchState state = DispatchState.INITIAL;
  private final OutageLog outage = new OutageLog();
  private boolean signalled;
  private boolean running;

  public Forwarder(
      DeliveryQueue outbox,
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
    CircuitBreaker.EventPublisher events = calls.breaker().getEventPublisher();
    events.onError(event -> locked(() -> outage.failed(String.valueOf(event.getThrowable().getMessage()))));
    events.onStateTransition(event -> locked(() -> {
      outage.circuit(event.getStateTransition().getToState(), clock.instant());
      signal();
    }));
  }

  public void start() {
    locked(() -> running = true);
    coordinator.start();
  }

  /** Something changed (a commit, a finished request): look again soon. */
  public void wake() {
    locked(this::signal);
  }

  /**
   * Stops sending the given types (all types when empty) until the returned handle is closed, and
   * waits until no request for them is in flight. A bulk import into Pathling uses it: Pathling
   * fails overlapping writes to a type, and live changes queued meanwhile are sent after the
   * import, so a newer live version is never overwritten by the import's older one.
   */
  public AutoCloseable hold(Set<String> types) throws InterruptedException {
    Set<String> held = Set.copyOf(types);
    lock.lock();
    try {
      state = state.held(held);
      try {
        while (state.inFlightAmong(held)) {
          changed.await();
        }
      } catch (InterruptedException e) {
        release(held);
        throw e;
      }
    } finally {
      lock.unlock();
    }
    return new Release(held);
  }

  /** Ends one hold, once however often it is closed. */
  private final class Release implements AutoCloseable {
    private final Set<String> held;
    private boolean done; // guarded by lock

    Release(Set<String> held) {
      this.held = held;
    }

    @Override
    public void close() {
      locked(() -> {
        if (!done) {
          done = true;
          release(held);
        }
      });
    }
  }

  /** Under the lock. */
  private void release(Set<String> held) {
    state = state.released(held);
    signal();
  }

  public ForwarderStatus status() {
    Instant now = clock.instant();
    DispatchState seen = read(() -> state);
    return new ForwarderStatus(
        settings.mode().name().toLowerCase(),
        calls.breaker().getState().name(),
        new TreeSet<>(seen.inFlight()),
        seen.restingAt(now),
        metrics.counts());
  }

  private void coordinate() {
    while (true) {
      // Read before taking the lock: the outbox is I/O; the lock covers only the forwarder's state.
      CircuitBreaker.State circuit = calls.breaker().getState();
      Optional<List<TypeBacklog>> backlog = readBacklog(circuit);
      TypeScheduler.Decision decision;
      lock.lock();
      try {
        if (!running) {
          return;
        }
        Instant now = clock.instant();
        outage.report(now, circuit);
        // Decided and marked in flight in one critical section: no hold() can come between them,
        // and dispatched() refuses a held type or one in flight should the decision ever offer it.
        decision = backlog.isPresent()
            ? scheduler.decide(backlog.get(), state, now)
            : TypeScheduler.Decision.idle(now);
        for (String type : decision.send()) {
          state = state.dispatched(type);
        }
      } finally {
        lock.unlock();
      }
      decision.send().forEach(type -> deliveries.execute(() -> deliver(type)));
      if (!awaitChange(decision)) {
        return;
      }
    }
  }

  /** The backlog, or nothing to decide on while the breaker is open or the outbox unreadable. */
  private Optional<List<TypeBacklog>> readBacklog(CircuitBreaker.State circuit) {
    if (circuit == CircuitBreaker.State.OPEN || circuit == CircuitBreaker.State.FORCED_OPEN) {
      return Optional.empty();
    }
    try {
      return Optional.of(outbox.backlog(settings.batchMax()));
    } catch (OutboxUnavailableException e) {
      log.error("Cannot read the outbox: {}", e.getMessage());
      return Optional.empty();
    }
  }

  /** One turn of one type, on a delivery thread; the type is in flight until it ends. */
  private void deliver(String type) {
    Instant started = clock.instant();
    Duration rest = Duration.ZERO;
    try {
      List<PendingChange> changes =
          Turn.take(outbox.oldest(type, Turn.readLimit(settings.mode(), settings.batchMax())), settings.mode());
      if (changes.isEmpty()) {
        return;
      }
      TypeDelivery.Report report =
          new TypeDelivery(outbox, writer, calls, settings.mode(), metrics).deliver(type, changes);
      log.info(
          "Forwarded {} {} in {} request(s), {} ms{}",
          report.delivered(),
          type,
          report.requests(),
          Duration.between(started, clock.instant()).toMillis(),
          report.deadLettered() > 0 ? ", " + report.deadLettered() + " dead-lettered" : "");
    } catch (CallNotPermittedException e) {
      rest = REFUSED_REST;
    } catch (RetriableWriteException | OutboxUnavailableException e) {
      rest = settings.backOff();
      log.warn("Forwarding {} paused for {}: {}", type, settings.backOff(), e.getMessage());
    } catch (RuntimeException e) {
      rest = settings.backOff();
      log.error("Forwarding {} failed unexpectedly; will retry", type, e);
    } finally {
      Duration resting = rest;
      locked(() -> {
        state = state.finished(type, clock.instant(), resting);
        signal();
      });
    }
  }

  /**
   * Waits until the decision's {@linkplain TypeScheduler.Decision#notBefore floor}, whatever
   * happens, then until something changes or its {@linkplain TypeScheduler.Decision#wakeBy wake
   * time}. False when stopping. The instants come from the injected clock, read once here; the
   * condition measures the waits themselves, so a wall clock that jumps shortens a wait at most,
   * and never stretches it past the decision's own bound (a second at most).
   */
  private boolean awaitChange(TypeScheduler.Decision decision) {
    lock.lock();
    try {
      Duration elapsed = Duration.between(decision.decidedAt(), clock.instant());
      long floor = remaining(decision.decidedAt(), decision.notBefore(), elapsed);
      long wake = remaining(decision.decidedAt(), decision.wakeBy(), elapsed);
      long left = floor;
      while (running && left > 0) {
        left = changed.awaitNanos(left);
      }
      left = wake - floor;
      while (running && !signalled && left > 0) {
        left = changed.awaitNanos(left);
      }
      signalled = false;
      return running;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }

  /** Nanoseconds from {@code decidedAt + elapsed} to {@code until}; a clock gone back counts as no time. */
  private static long remaining(Instant decidedAt, Instant until, Duration elapsed) {
    Duration planned = Duration.between(decidedAt, until);
    return Math.max(0, planned.minus(elapsed.isNegative() ? Duration.ZERO : elapsed).toNanos());
  }

  /** Under the lock. */
  private void signal() {
    signalled = true;
    changed.signalAll();
  }

  private void locked(Runnable action) {
    lock.lock();
    try {
      action.run();
    } finally {
      lock.unlock();
    }
  }

  private <T> T read(Supplier<T> read) {
    lock.lock();
    try {
      return read.get();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() throws InterruptedException {
    locked(() -> {
      running = false;
      signal();
    });
    coordinator.join(TimeUnit.SECONDS.toMillis(5));
    deliveries.shutdownNow();
    deliveries.awaitTermination(10, TimeUnit.SECONDS);
  }
}
