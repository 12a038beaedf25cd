package org.pathlingrelay.forward;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.pathlingrelay.outbox.TypeBacklog;

/**
 * Decides which resource types get a request now, and when to decide again: a pure function of the
 * backlog, the {@link DispatchState} (what is in flight, held or resting, when each type's last
 * turn ended) and the time. No I/O, no locks, no clock: the forwarder passes {@code now} in.
 *
 * <p>Fairness: of the types that are due, the one that has had fewest turns goes first, then the
 * one whose oldest change is oldest: turns go round, and a busy type that has just been served
 * waits behind the others however old its backlog (a resource updated while in flight keeps its
 * place in the outbox). A type that had nothing to send for a while comes back counted level with
 * the least served of the types that wait, less {@link #RETURN_CREDIT} turn: a quiet type's lone
 * change takes the next free slot, ahead of every busy type, but a type cannot save up turns while
 * idle and then hold the slots. So a type that is due waits at most about ⌈(types − 1) / parallel
 * types⌉ turns (plus the linger), however busy the others are, and a quiet one about one turn.
 * Turns are counted rather than timed: a type whose turns carry deletes (3.4–3.9 s each on
 * Pathling 2.0.1) needs its turns as often as one that sends only upserts.
 */
final class TypeScheduler {

  /** How long to wait with nothing to do before looking again anyway. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /** How many turns ahead of the least served waiting type a type back from idle may start. */
  static final long RETURN_CREDIT = 1;
  /** Bounds how often the backlog is read when commits arrive continuously. */
  static final Duration SCAN_FLOOR = Duration.ofMillis(20);

  /**
   * The types to send now, fewest turns first, and how long until a decision could send more
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
  private final int batchMax;
  private final Linger linger;

  TypeScheduler(int parallelTypes, int batchMax, Linger linger) {
    this.parallelTypes = parallelTypes;
    this.batchMax = batchMax;
    this.linger = linger;
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @return types that are {@linkplain DispatchState#free free} and due, fewest turns first, at most as many as there are free slots
   */
  Decision decide(List<TypeBacklog> backlog, DispatchState state, Instant now) {
    Set<String> held = backlog.stream()
        .map(TypeBacklog::type)
        .filter(type -> state.holds().covers(type))
        .collect(Collectors.toSet());
    return decide(backlog, state.inFlight(), held, state.restingUntil(), state.turns(), now);
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @param held types another writer owns for now (a bulk import)
   * @param restingUntil when types whose requests kept failing may be tried again
   * @param turns how many turns each type has had
   */
  Decision decide(
      List<TypeBacklog> backlog,
      Set<String> inFlight,
      Set<String> held,
      Map<String, Instant> restingUntil,
      Map<String, Long> turns,
      Instant now) {
    int free = parallelTypes - inFlight.size();
    if (free <= 0) {
      return Decision.idle(now);
    }
    Duration next = IDLE;
    long floor = fewestTurns(backlog, inFlight, turns) - RETURN_CREDIT;
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
      Duration sinceNewest = Duration.between(waiting.newestReceivedAt(), now);
      if (waiting.pending() > 0 && (waiting.pending() >= batchMax || linger.over(age, sinceNewest))) {
        long had = turns.getOrDefault(type, 0L);
        due.add(new Waiting(type, Math.max(had, floor), had, waiting.oldestReceivedAt()));
      } else {
        next = min(next, linger.left(age, sinceNewest));
      }
    }
    due.sort(Comparator.comparingLong(Waiting::counted)
        .thenComparingLong(Waiting::turns)
        .thenComparing(Waiting::oldestChange)
        .thenComparing(Waiting::type));
    List<String> send = due.stream().limit(free).map(Waiting::type).toList();
    return new Decision(send, now, next);
  }

  /**
   * A due type: the turns it counts as having had (raised to the floor for a type back from idle),
   * the turns it really had, and when its oldest change arrived.
   */
  private record Waiting(String type, long counted, long turns, Instant oldestChange) {}

  /** The fewest turns any type with something pending or in flight has had. */
  private static long fewestTurns(List<TypeBacklog> backlog, Set<String> inFlight, Map<String, Long> turns) {
    return Stream.concat(backlog.stream().map(TypeBacklog::type), inFlight.stream())
        .mapToLong(type -> turns.getOrDefault(type, 0L))
        .min()
        .orElse(0);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
