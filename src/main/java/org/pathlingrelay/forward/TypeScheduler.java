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
 * <p>Fairness: of the types that are due, the one whose last turn ended longest ago goes first
 * (one that never had a turn before all), then the one whose oldest change is oldest: turns go
 * round, and a busy type that has just been served waits behind the others however old its
 * backlog (a resource updated while in flight keeps its place in the outbox). A type back from
 * idle was served longest ago, so its change takes the next free slot, and it gets one turn for
 * it, not the turns it missed. A type is <em>fresh</em> when everything it has waiting came
 * after its last turn ended (it had nothing to send) and has waited no longer than {@code
 * --linger-max} (at least {@link #FRESH_FOR}): a few new changes, not a backlog, such as the first
 * changes of every type when the forwarder starts. With {@value #LANE_FROM} or more slots, a
 * type that is not fresh (a busy one) starts a turn only while another slot stays free: the last
 * is kept for fresh types, so a quiet type's lone change goes after the linger instead of waiting
 * for a busy turn to end, and its request shares Pathling with fewer others. So a busy type waits at most about
 * ⌈(types − 1) / (slots − 1)⌉ turns (plus the linger), however busy the others are, and a quiet
 * one about its own request. Turns are taken in order rather than shared by time: a type whose
 * turns carry deletes (3.4–3.9 s each on Pathling 2.0.1) needs its turns as often as one that
 * sends only upserts.
 */
final class TypeScheduler {

  /** How long to wait with nothing to do before looking again anyway. */
  static final Duration IDLE = Duration.ofSeconds(1);
  /** Bounds how often the backlog is read when commits arrive continuously. */
  static final Duration SCAN_FLOOR = Duration.ofMillis(20);
  /**
   * From how many slots one is kept for fresh types. With two, keeping one would halve what busy
   * types get of a Pathling that runs two writes at once; from three on they keep at least two.
   */
  static final int LANE_FROM = 3;
  /** The least a fresh type's oldest change may have waited and still count as fresh. */
  static final Duration FRESH_FOR = Duration.ofSeconds(5);

  /**
   * The types to send now, least recently served first, and how long until a decision could send
   * more if nothing else happens (a finished request or a commit wakes the forwarder sooner).
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
  private final Duration freshFor;

  TypeScheduler(int parallelTypes, int batchMax, Linger linger) {
    this.parallelTypes = parallelTypes;
    this.batchMax = batchMax;
    this.linger = linger;
    this.freshFor = linger.max().compareTo(FRESH_FOR) > 0 ? linger.max() : FRESH_FOR;
  }

  /**
   * @param backlog every type with something pending (counts may be capped at the batch maximum)
   * @return types that are {@linkplain DispatchState#free free} and due, least recently served first, at most as many as there are free slots
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
   * @param turnEndedAt when each type's last turn ended
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
      Duration sinceNewest = Duration.between(waiting.newestReceivedAt(), now);
      if (waiting.pending() > 0 && (waiting.pending() >= batchMax || linger.over(age, sinceNewest))) {
        Instant served = turnEndedAt.getOrDefault(type, Instant.MIN);
        boolean fresh = waiting.oldestReceivedAt().isAfter(served) && age.compareTo(freshFor) <= 0;
        due.add(new Waiting(type, served, fresh, waiting.oldestReceivedAt()));
      } else {
        next = min(next, linger.left(age, sinceNewest));
      }
    }
    due.sort(Comparator.comparing(Waiting::lastServed)
        .thenComparing(Waiting::oldestChange)
        .thenComparing(Waiting::type));
    int kept = parallelTypes >= LANE_FROM ? 1 : 0;
    List<String> send = new ArrayList<>();
    for (Waiting waiting : due) {
      int left = free - send.size();
      if (left == 0) {
        break;
      }
      if (waiting.fresh() || left > kept) {
        send.add(waiting.type());
      }
    }
    return new Decision(List.copyOf(send), now, next);
  }

  /**
   * A due type: when its last turn ended, whether all it has waiting came after that, and when its
   * oldest change arrived.
   */
  private record Waiting(String type, Instant lastServed, boolean fresh, Instant oldestChange) {}

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
