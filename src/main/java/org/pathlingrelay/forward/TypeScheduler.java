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
 * <p>Fairness: of the types that are due, the one served least recently goes first (one never
 * served before all others), then the one whose oldest change is oldest. A busy type's backlog is
 * old (a resource updated while in flight keeps its place in the outbox) but it has just been
 * served; a quiet type was served long ago, so its lone change goes ahead of the busy types that
 * had their turn since: its wait is about one request time however many busy types there are.
 * Turns go round: a type that is due is passed over at most once by each other type, and waits at
 * most about ⌈(types − 1) / parallel types⌉ turns (plus the linger), however busy the others are.
 */
final class TypeScheduler {

  /** How long to wait with nothing to do before looking again anyway. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /** Bounds how often the backlog is read when commits arrive continuously. */
  static final Duration SCAN_FLOOR = Duration.ofMillis(20);

  /**
   * The types to send now, least recently served first, and how long until a decision could send more
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
   * @return types that are {@linkplain DispatchState#free free} and due, least recently served
   *     first, at most as many as there are free slots
   */
  Decision decide(List<TypeBacklog> backlog, DispatchState state, Instant now) {
    Set<String> held = backlog.stream()
        .map(TypeBacklog::type)
        .filter(type -> state.holds().covers(type))
        .collect(Collectors.toSet());
    return decide(backlog, state.inFlight(), held, state.restingUntil(), state.turnEndedAt(), now);
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @param held types another writer owns for now (a bulk import)
   * @param restingUntil when types whose requests kept failing may be tried again
   * @param turnEndedAt when each type's last request (or run of requests) ended
   */
  Decision decide(
      List<TypeBacklog> backlog,
      Set<String> inFlight,
      Set<String> held,
      Map<String, Instant> restingUntil,
      Map<String, Instant> turnEndedAt,
      Instant now) {
    int free = parallelTypes - inFlight.size();
    if (free <= 0) {
      return Decision.idle(now);
    }
    Duration next = IDLE;
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
        due.add(new Waiting(type, turnEndedAt.getOrDefault(type, Instant.MIN), waiting.oldestReceivedAt()));
      } else {
        next = min(next, linger.minus(age));
      }
    }
    due.sort(Comparator.comparing(Waiting::servedAt)
        .thenComparing(Waiting::oldestChange)
        .thenComparing(Waiting::type));
    List<String> send = due.stream().limit(free).map(Waiting::type).toList();
    return new Decision(send, now, next);
  }

  /** A due type: when its last turn ended ({@link Instant#MIN} if never) and its oldest change arrived. */
  private record Waiting(String type, Instant servedAt, Instant oldestChange) {}

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
