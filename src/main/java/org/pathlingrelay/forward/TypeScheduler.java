package org.pathlingrelay.forward;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.pathlingrelay.outbox.TypeBacklog;

/**
 * Decides which resource types get a request now, and when to decide again: a pure function of the
 * backlog, the {@link DispatchState} (what is in flight, held or resting, when each type's last
 * turn ended) and the time. No I/O, no locks, no clock: the forwarder passes {@code now} in.
 *
 * <p>Fairness: of the types that are due, the one that has had least of Pathling's time goes
 * first (the sum of its turns' durations), then the one whose oldest change is oldest. Types get
 * Pathling's time in equal shares, as a fair-share CPU scheduler gives threads theirs: a busy type
 * that has just been served waits behind the others, however old its backlog (a resource updated
 * while in flight keeps its place in the outbox), and no type is passed over for long, since
 * whoever goes gains time. A type that had nothing to send for a while comes back level with the
 * least served of the types that wait, less a {@link #RETURN_CREDIT credit}: a quiet type's lone
 * change goes ahead of the busy types at the next free slot, but a type cannot save up time while
 * idle and then hold the slots.
 */
final class TypeScheduler {

  /** How long to wait with nothing to do before looking again anyway. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /**
   * How far ahead of the least served waiting type a type back from idle may start: about three
   * requests to a real Pathling 2.0.1.
   */
  static final Duration RETURN_CREDIT = Duration.ofSeconds(10);
  /** Bounds how often the backlog is read when commits arrive continuously. */
  static final Duration SCAN_FLOOR = Duration.ofMillis(20);

  /**
   * The types to send now, least served first, and how long until a decision could send more
   * if nothing else happens (a finished request or a commit wakes the forwarder sooner).
   *
   * @param decidedAt the {@code now} it was decided at
   */
  record Decision(List<String> send, Instant decidedAt, Duration next) {

    /** Nothing to send; look again after the idle interval. */
    static Decision idle(Instant now) {
      return new Decision(List.of(), now, IDLE);
    }

    /**
     * The next decision comes no sooner than this, whatever wakes the forwarder: a stream of
     * commits does not turn into a stream of backlog reads.
     */
    Instant notBefore() {
      return decidedAt.plus(SCAN_FLOOR);
    }

    /** The next decision comes by this instant even if nothing wakes the forwarder. */
    Instant wakeBy() {
      return decidedAt.plus(next.compareTo(SCAN_FLOOR) < 0 ? SCAN_FLOOR : next);
    }
  }

  private final int parallelTypes;
  private final Duration linger;
  private final FlushPolicy policy;

  TypeScheduler(int parallelTypes, int batchMax, Duration linger) {
    this.parallelTypes = parallelTypes;
    this.linger = linger;
    this.policy = FlushPolicy.bySize(batchMax).or(FlushPolicy.byLinger(linger));
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @return types that are {@linkplain DispatchState#free free} and due, least served first, at most as many as there are free slots
   */
  Decision decide(List<TypeBacklog> backlog, DispatchState state, Instant now) {
    Set<String> held = backlog.stream()
        .map(TypeBacklog::type)
        .filter(type -> state.holds().covers(type))
        .collect(Collectors.toSet());
    return decide(backlog, state.inFlight(), held, state.restingUntil(), state.served(), now);
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @param held types another writer owns for now (a bulk import)
   * @param restingUntil when types whose requests kept failing may be tried again
   * @param served how long each type's turns have taken in all
   */
  Decision decide(
      List<TypeBacklog> backlog,
      Set<String> inFlight,
      Set<String> held,
      Map<String, Instant> restingUntil,
      Map<String, Duration> served,
      Instant now) {
    int free = parallelTypes - inFlight.size();
    if (free <= 0) {
      return Decision.idle(now);
    }
    Duration next = IDLE;
    Duration floor = leastServed(backlog, inFlight, served).minus(RETURN_CREDIT);
    List<Waiting> due = new ArrayList<>();
    for (TypeBacklog waiting : backlog) {
      String type = waiting.type();
      if (inFlight.contains(type) || held.contains(type)) {
        continue;
      }
      Instant rest = restingUntil.get(type);
      if (rest != null && rest.isAfter(now)) {
        next = min(next, Duration.between(now, rest));
        continue;
      }
      Duration age = Duration.between(waiting.oldestReceivedAt(), now);
      if (policy.flush(waiting.pending(), age)) {
        Duration had = served.getOrDefault(type, Duration.ZERO);
        due.add(new Waiting(type, max(had, floor), had, waiting.oldestReceivedAt()));
      } else {
        next = min(next, linger.minus(age));
      }
    }
    due.sort(Comparator.comparing(Waiting::share)
        .thenComparing(Waiting::served)
        .thenComparing(Waiting::oldestChange)
        .thenComparing(Waiting::type));
    List<String> send = due.stream().limit(free).map(Waiting::type).toList();
    return new Decision(send, now, next);
  }

  /**
   * A due type: the time it counts as having had ({@code served}, raised to the floor for a type
   * back from idle), the time it really had, and when its oldest change arrived.
   */
  private record Waiting(String type, Duration share, Duration served, Instant oldestChange) {}

  /** The least time any type with something pending or in flight has had. */
  private static Duration leastServed(List<TypeBacklog> backlog, Set<String> inFlight, Map<String, Duration> served) {
    Duration least = null;
    for (TypeBacklog waiting : backlog) {
      least = minOrFirst(least, served.getOrDefault(waiting.type(), Duration.ZERO));
    }
    for (String type : inFlight) {
      least = minOrFirst(least, served.getOrDefault(type, Duration.ZERO));
    }
    return least == null ? Duration.ZERO : least;
  }

  private static Duration minOrFirst(Duration least, Duration candidate) {
    return least == null ? candidate : min(least, candidate);
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
