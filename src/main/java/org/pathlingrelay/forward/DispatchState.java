package org.pathlingrelay.forward;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What the forwarder knows about its types besides the backlog, as an immutable value: each change
 * is a new state. The transitions refuse what would break a promise: a type is never sent while a
 * request for it is in flight (Pathling fails overlapping writes to a type) nor while it is held.
 *
 * @param inFlight types with a request (a turn) in flight
 * @param holds types other writers own for now
 * @param restingUntil when types whose requests failed may be tried again
 * @param turnEndedAt when each type's last turn ended: a change that came after it found the type
 *     with nothing waiting
 */
record DispatchState(
    Set<String> inFlight,
    Holds holds,
    Map<String, Instant> restingUntil,
    Map<String, Instant> turnEndedAt) {

  static final DispatchState INITIAL = new DispatchState(Set.of(), Holds.NONE, Map.of(), Map.of());

  DispatchState {
    inFlight = Set.copyOf(inFlight);
    restingUntil = Map.copyOf(restingUntil);
    turnEndedAt = Map.copyOf(turnEndedAt);
  }

  /** Whether a new turn of {@code type} may start. */
  boolean free(String type) {
    return !inFlight.contains(type) && !holds.covers(type);
  }

  /** A turn of {@code type} starts. */
  DispatchState dispatched(String type) {
    if (!free(type)) {
      throw new IllegalStateException(
          type + (inFlight.contains(type) ? " already has a request in flight" : " is held"));
    }
    Set<String> more = new HashSet<>(inFlight);
    more.add(type);
    return new DispatchState(more, holds, restingUntil, turnEndedAt);
  }

  /** A turn of {@code type} ended at {@code endedAt}; after a failure it rests for {@code rest}. */
  DispatchState finished(String type, Instant endedAt, Duration rest) {
    if (!inFlight.contains(type)) {
      throw new IllegalStateException(type + " has no request in flight");
    }
    Set<String> fewer = new HashSet<>(inFlight);
    fewer.remove(type);
    Map<String, Instant> rests = new HashMap<>(restingUntil);
    if (!rest.isNegative() && !rest.isZero()) {
      rests.put(type, endedAt.plus(rest));
    } else {
      rests.remove(type);
    }
    Map<String, Instant> ended = new HashMap<>(turnEndedAt);
    ended.put(type, endedAt);
    return new DispatchState(fewer, holds, rests, ended);
  }

  /** Holds {@code types} (every type when empty); turns in flight go on until they end. */
  DispatchState held(Set<String> types) {
    return new DispatchState(inFlight, holds.plus(types), restingUntil, turnEndedAt);
  }

  DispatchState released(Set<String> types) {
    return new DispatchState(inFlight, holds.minus(types), restingUntil, turnEndedAt);
  }

  /** Whether a turn of any of {@code types} (of any type when empty) is still in flight. */
  boolean inFlightAmong(Set<String> types) {
    return types.isEmpty() ? !inFlight.isEmpty() : inFlight.stream().anyMatch(types::contains);
  }

  /** The types still resting at {@code now}, by name. */
  SortedSet<String> restingAt(Instant now) {
    SortedSet<String> resting = new TreeSet<>();
    restingUntil.forEach((type, until) -> {
      if (until.isAfter(now)) {
        resting.add(type);
      }
    });
    return resting;
  }
}
