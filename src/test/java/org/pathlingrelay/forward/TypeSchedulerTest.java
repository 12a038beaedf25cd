package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.outbox.TypeBacklog;

/** Which types the forwarder sends next, decided at a fixed {@code NOW}, with no waiting. */
class TypeSchedulerTest {

  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");
  private static final Duration LINGER = Duration.ofMillis(200);
  private static final int BATCH_MAX = 1_000;

  private static TypeScheduler scheduler(int parallelTypes) {
    return new TypeScheduler(parallelTypes, BATCH_MAX, Linger.of(LINGER));
  }

  private static TypeBacklog waiting(String type, long pending, Duration since) {
    return new TypeBacklog(type, pending, NOW.minus(since));
  }

  private static TypeScheduler.Decision decide(TypeScheduler scheduler, List<TypeBacklog> backlog) {
    return scheduler.decide(backlog, Set.of(), Set.of(), Map.of(), Map.of(), NOW);
  }

  @Test
  void oneSlot_theTypeWhoseOldestChangeIsOldest_goesFirst_whateverTheAlphabet() {
    TypeScheduler.Decision decision = decide(scheduler(1), List.of(
        waiting("Condition", 5, Duration.ofSeconds(2)),
        waiting("Observation", 5, Duration.ofSeconds(9)),
        waiting("Patient", 5, Duration.ofSeconds(4))));

    assertThat(decision.send()).containsExactly("Observation");
  }

  @Test
  void severalSlots_theLongestWaitingTypesGo_inOrderOfTheirWait() {
    TypeScheduler.Decision decision = decide(scheduler(2), List.of(
        waiting("Condition", 5, Duration.ofSeconds(2)),
        waiting("Observation", 5, Duration.ofSeconds(9)),
        waiting("Patient", 5, Duration.ofSeconds(4))));

    assertThat(decision.send()).containsExactly("Observation", "Patient");
  }

  @Test
  void aLoneChangeThatWaitedLongest_goesBeforeABusierTypeWithAFullBatch() {
    TypeScheduler.Decision decision = decide(scheduler(1), List.of(
        waiting("Observation", BATCH_MAX, Duration.ofSeconds(1)),
        waiting("Patient", 1, Duration.ofSeconds(3))));

    assertThat(decision.send()).containsExactly("Patient");
  }

  /** A backlog whose oldest change came {@code since} ago and the type's last turn ended {@code served} ago. */
  private static Map.Entry<TypeBacklog, Instant> busy(String type, long pending, Duration since, Duration served) {
    return Map.entry(waiting(type, pending, since), NOW.minus(served));
  }

  private static TypeScheduler.Decision decide(
      TypeScheduler scheduler, Set<String> inFlight, List<Map.Entry<TypeBacklog, Instant>> backlog) {
    Map<String, Instant> served = new HashMap<>();
    backlog.forEach(entry -> served.put(entry.getKey().type(), entry.getValue()));
    return scheduler.decide(
        backlog.stream().map(Map.Entry::getKey).toList(), inFlight, Set.of(), Map.of(), served, NOW);
  }

  @Test
  void aBusyTypeServedMoreRecently_waits_howeverOldItsBacklog() {
    // A resource updated while in flight keeps its place: Observation's oldest change is a minute old.
    TypeScheduler.Decision decision = decide(scheduler(1), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(2)),
        busy("Patient", 10, Duration.ofSeconds(30), Duration.ofSeconds(20))));

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void aTypeBackFromIdle_goesAheadOfEveryBusyType() {
    TypeScheduler.Decision decision = decide(scheduler(1), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(9)),
        busy("Condition", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(6)),
        busy("Patient", 1, Duration.ofSeconds(3), Duration.ofHours(1))));

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void aTypeBackFromIdle_getsOneTurn_notTheTurnsItMissed_afterItTheOthersServedBeforeItGoFirst() {
    // Patient was idle for an hour, had its turn a second ago, and a burst of it came meanwhile.
    TypeScheduler.Decision decision = decide(scheduler(2), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(9)),
        busy("Condition", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(6)),
        busy("Patient", BATCH_MAX, Duration.ofSeconds(2), Duration.ofSeconds(1))));

    assertThat(decision.send()).containsExactly("Observation", "Condition");
  }

  @Test
  void aTypeThatNeverHadATurn_goesFirst() {
    TypeScheduler.Decision decision = decide(scheduler(1), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofHours(2)),
        Map.entry(waiting("Device", 1, Duration.ofSeconds(1)), Instant.MIN)));

    assertThat(decision.send()).containsExactly("Device");
  }

  @Test
  void fourSlots_busyTypesTakeThree_andTheFourthIsKeptForATypeWithNothingWaitingFromBefore() {
    TypeScheduler.Decision decision = decide(scheduler(4), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(9)),
        busy("Condition", 50, Duration.ofMinutes(1), Duration.ofSeconds(8)),
        busy("Encounter", 50, Duration.ofMinutes(1), Duration.ofSeconds(7)),
        busy("Procedure", 50, Duration.ofMinutes(1), Duration.ofSeconds(6)),
        busy("Immunization", 50, Duration.ofMinutes(1), Duration.ofSeconds(5))));

    assertThat(decision.send()).containsExactly("Observation", "Condition", "Encounter");
  }

  @Test
  void aQuietTypesLoneChange_takesTheKeptSlot_whileThreeBusyTurnsAreInFlight() {
    TypeScheduler.Decision decision = decide(scheduler(4), Set.of("Observation", "Condition", "Encounter"), List.of(
        busy("Procedure", 50, Duration.ofMinutes(1), Duration.ofSeconds(6)),
        busy("Immunization", 50, Duration.ofMinutes(1), Duration.ofSeconds(5)),
        busy("Device", 1, Duration.ofSeconds(1), Duration.ofMinutes(2))));

    assertThat(decision.send()).containsExactly("Device");
  }

  @Test
  void whileAQuietTypesTurnIsInFlight_busyTypesStillLeaveOneSlotFree() {
    TypeScheduler.Decision decision = decide(scheduler(4), Set.of("Device"), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(9)),
        busy("Condition", 50, Duration.ofMinutes(1), Duration.ofSeconds(8)),
        busy("Encounter", 50, Duration.ofMinutes(1), Duration.ofSeconds(7))));

    assertThat(decision.send()).containsExactly("Observation", "Condition");
  }

  @Test
  void atTheStart_typesNeverServedWhoseChangesWaitedPastTheFreshWindow_areBusy_andAQuietChangeFindsTheKeptSlot() {
    TypeScheduler.Decision decision = decide(scheduler(4), Set.of(), List.of(
        Map.entry(waiting("Observation", BATCH_MAX, Duration.ofSeconds(9)), Instant.MIN),
        Map.entry(waiting("Condition", 50, TypeScheduler.FRESH_FOR.plusMillis(1)), Instant.MIN),
        Map.entry(waiting("Encounter", 50, Duration.ofSeconds(7)), Instant.MIN),
        Map.entry(waiting("Procedure", 50, Duration.ofSeconds(6)), Instant.MIN),
        Map.entry(waiting("Device", 1, Duration.ofSeconds(1)), Instant.MIN)));

    assertThat(decision.send()).containsExactly("Observation", "Encounter", "Procedure", "Device");
  }

  @Test
  void twoSlots_keepNoneBack_busyTypesTakeBoth() {
    TypeScheduler.Decision decision = decide(scheduler(2), Set.of(), List.of(
        busy("Observation", BATCH_MAX, Duration.ofMinutes(1), Duration.ofSeconds(9)),
        busy("Condition", 50, Duration.ofMinutes(1), Duration.ofSeconds(8)),
        busy("Encounter", 50, Duration.ofMinutes(1), Duration.ofSeconds(7))));

    assertThat(decision.send()).containsExactly("Observation", "Condition");
  }

  @Test
  void equalWaits_areBrokenByTypeName_soTheDecisionIsRepeatable() {
    TypeScheduler.Decision decision = decide(scheduler(2), List.of(
        waiting("Procedure", 5, Duration.ofSeconds(2)),
        waiting("Condition", 5, Duration.ofSeconds(2)),
        waiting("Encounter", 5, Duration.ofSeconds(2))));

    assertThat(decision.send()).containsExactly("Condition", "Encounter");
  }

  @Test
  void typesInFlight_takeTheirSlots_andAreNotSentAgain() {
    List<TypeBacklog> backlog = List.of(
        waiting("Condition", 5, Duration.ofSeconds(9)),
        waiting("Encounter", 5, Duration.ofSeconds(8)),
        waiting("Observation", 5, Duration.ofSeconds(7)),
        waiting("Patient", 5, Duration.ofSeconds(6)));

    // Four slots, two in flight: one for a busy type, one kept free.
    TypeScheduler.Decision decision = scheduler(4).decide(
        backlog, Set.of("Condition", "Immunization"), Set.of(), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).containsExactly("Encounter");
  }

  @Test
  void allSlotsInFlight_sendsNothing_andWaitsForAFinishedRequest() {
    TypeScheduler.Decision decision = scheduler(2).decide(
        List.of(waiting("Patient", 5, Duration.ofMinutes(5))),
        Set.of("Condition", "Encounter"), Set.of(), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).isEmpty();
    assertThat(decision.next()).isEqualTo(TypeScheduler.IDLE);
  }

  @Test
  void heldTypes_areSkipped_andTheirSlotGoesToTheNextType() {
    TypeScheduler.Decision decision = scheduler(1).decide(
        List.of(waiting("Patient", 5, Duration.ofSeconds(9)), waiting("Condition", 5, Duration.ofSeconds(1))),
        Set.of(), Set.of("Patient"), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).containsExactly("Condition");
  }

  @Test
  void restingType_isSkipped_andTheNextDecisionComesWhenItsRestEnds() {
    TypeScheduler.Decision decision = scheduler(4).decide(
        List.of(waiting("Patient", 5, Duration.ofSeconds(9))),
        Set.of(), Set.of(), Map.of("Patient", NOW.plusMillis(300)), Map.of(), NOW);

    assertThat(decision.send()).isEmpty();
    assertThat(decision.next()).isEqualTo(Duration.ofMillis(300));
  }

  @Test
  void restThatHasEnded_noLongerHoldsTheTypeBack() {
    TypeScheduler.Decision decision = scheduler(4).decide(
        List.of(waiting("Patient", 5, Duration.ofSeconds(9))),
        Set.of(), Set.of(), Map.of("Patient", NOW.minusMillis(1)), Map.of(), NOW);

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void smallYoungBacklog_waitsForTheLinger_andTheNextDecisionComesWhenItEnds() {
    TypeScheduler.Decision decision = decide(scheduler(4), List.of(waiting("Patient", 3, Duration.ofMillis(50))));

    assertThat(decision.send()).isEmpty();
    assertThat(decision.next()).isEqualTo(Duration.ofMillis(150));
  }

  @Test
  void smallBacklogAsOldAsTheLinger_isSent() {
    TypeScheduler.Decision decision = decide(scheduler(4), List.of(waiting("Patient", 1, LINGER)));

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void fullBatch_isSentAtOnce_withoutWaitingForTheLinger() {
    TypeScheduler.Decision decision = decide(scheduler(4), List.of(waiting("Patient", BATCH_MAX, Duration.ZERO)));

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void nothingPending_waitsTheIdleInterval() {
    TypeScheduler.Decision decision = decide(scheduler(4), List.of());

    assertThat(decision.send()).isEmpty();
    assertThat(decision.next()).isEqualTo(TypeScheduler.IDLE);
  }

  /**
   * Always-backlogged types (their oldest change an hour old, as hot ids make it), more than the
   * slots, every request taking one round; a quiet type's lone change arrives mid-run. Returns,
   * per type, the most rounds it ever waited between turns (or before its first).
   */
  private static Map<String, Integer> simulate(int types, int parallelTypes, int rounds, int quietArrives) {
    TypeScheduler scheduler = scheduler(parallelTypes);
    Duration round = Duration.ofSeconds(3);
    Instant start = NOW;
    List<String> busy = IntStream.range(0, types).mapToObj(i -> "Type" + (char) ('A' + i)).toList();
    Map<String, Instant> served = new HashMap<>();
    Map<String, Integer> lastTurn = new HashMap<>();
    Map<String, Integer> longestWait = new HashMap<>();
    Set<String> inFlight = new HashSet<>();
    boolean quietPending = false;
    Instant quietSince = null;
    for (int r = 0; r < rounds; r++) {
      Instant now = start.plus(round.multipliedBy(r));
      for (String type : inFlight) {
        served.put(type, now);
      }
      inFlight.clear();
      if (r == quietArrives) {
        quietPending = true;
        quietSince = now.minus(LINGER);
        lastTurn.put("Quiet", r);
      }
      List<TypeBacklog> backlog = new ArrayList<>();
      for (String type : busy) {
        backlog.add(new TypeBacklog(type, 50, start.minusSeconds(3_600)));
      }
      if (quietPending) {
        backlog.add(new TypeBacklog("Quiet", 1, quietSince));
      }
      TypeScheduler.Decision decision = scheduler.decide(
          backlog, Set.copyOf(inFlight), Set.of(), Map.of(), Map.copyOf(served), now);
      assertThat(decision.send()).hasSizeLessThanOrEqualTo(parallelTypes).doesNotHaveDuplicates();
      for (String type : decision.send()) {
        int waited = r - lastTurn.getOrDefault(type, 0);
        longestWait.merge(type, waited, Math::max);
        lastTurn.put(type, r);
        inFlight.add(type);
        if (type.equals("Quiet")) {
          quietPending = false;
        }
      }
    }
    for (String type : busy) {
      longestWait.merge(type, rounds - lastTurn.getOrDefault(type, 0), Math::max);
    }
    return longestWait;
  }

  @Test
  void moreTypesThanSlots_everyTypeGetsATurn_atLeastOnceEveryTypesOverSlotsRounds() {
    Map<String, Integer> longestWait = simulate(8, 4, 40, 13);

    assertThat(longestWait).hasSize(9);
    // Eight busy types on the three slots they may take: nobody waits more than ⌈8 / 3⌉ = 3
    // rounds between turns, and the quiet type's lone change goes in the slot kept free.
    assertThat(longestWait.values()).allSatisfy(rounds -> assertThat(rounds).isLessThanOrEqualTo(3));
    assertThat(longestWait.get("Quiet")).as("the quiet type's lone change").isZero();
  }

  @Test
  void oneSlotAndManyTypes_turnsGoRoundRobin_andTheQuietTypeIsServedWithinOneRoundPerOtherType() {
    Map<String, Integer> longestWait = simulate(12, 1, 100, 37);

    assertThat(longestWait).hasSize(13);
    assertThat(longestWait.values()).allSatisfy(rounds -> assertThat(rounds).isLessThanOrEqualTo(13));
    assertThat(longestWait.get("Quiet")).isLessThanOrEqualTo(12);
  }

  @Test
  void oneSlotAndOneBusyType_aQuietChangeGoesAsSoonAsTheTurnInFlightEnds() {
    Map<String, Integer> longestWait = simulate(1, 1, 20, 7);

    assertThat(longestWait.get("Quiet")).isZero();
  }

  @Test
  void twentyBusyTypesOnFourSlots_aQuietTypesLoneChange_goesAtOnce_inTheSlotKeptFree() {
    Map<String, Integer> longestWait = simulate(20, 4, 60, 37);

    // Busy types wait ⌈20 / 3⌉ = 7 rounds between turns; the quiet one takes the slot kept free.
    assertThat(longestWait.values()).allSatisfy(rounds -> assertThat(rounds).isLessThanOrEqualTo(7));
    assertThat(longestWait.get("Quiet")).isZero();
  }

  private static final Linger BURSTY = new Linger(Duration.ofMillis(200), Duration.ofSeconds(5));

  private static TypeBacklog burst(String type, long pending, Duration oldest, Duration newest) {
    return new TypeBacklog(type, pending, NOW.minus(oldest), NOW.minus(newest));
  }

  @Test
  void aBurst_waitsWhileItsChangesKeepComing_andTheNextDecisionComesWhenTheyMightHavePaused() {
    TypeScheduler.Decision decision = new TypeScheduler(4, BATCH_MAX, BURSTY).decide(
        List.of(burst("Observation", 40, Duration.ofSeconds(3), Duration.ofMillis(50))),
        Set.of(), Set.of(), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).isEmpty();
    assertThat(decision.next()).isEqualTo(Duration.ofMillis(150));
  }

  @Test
  void aBurstStillComing_goesOnceItsOldestChangeHasWaitedTheLongestLinger() {
    TypeScheduler.Decision decision = new TypeScheduler(4, BATCH_MAX, BURSTY).decide(
        List.of(burst("Observation", 400, Duration.ofSeconds(5), Duration.ofMillis(10))),
        Set.of(), Set.of(), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).containsExactly("Observation");
  }

  @Test
  void aBurstThatPausedForTheLinger_goesAtOnce_andSoDoesALoneChange() {
    TypeScheduler.Decision decision = new TypeScheduler(4, BATCH_MAX, BURSTY).decide(List.of(
            burst("Observation", 40, Duration.ofSeconds(2), Duration.ofMillis(200)),
            burst("Patient", 1, Duration.ofMillis(200), Duration.ofMillis(200)),
            burst("Condition", 1, Duration.ofMillis(199), Duration.ofMillis(199))),
        Set.of(), Set.of(), Map.of(), Map.of(), NOW);

    assertThat(decision.send()).containsExactlyInAnyOrder("Observation", "Patient");
  }

  @Test
  void aLingerWhoseLongestIsShorterThanItsQuiet_isRefused_namingBothOptions() {
    assertThatThrownBy(() -> new Linger(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--linger-max (PT1S) must be at least --linger (PT2S)");
  }
}
