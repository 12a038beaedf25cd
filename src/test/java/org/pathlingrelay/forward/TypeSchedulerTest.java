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

  @Test
  void aBusyTypeThatHadMoreTurns_waits_howeverOldItsBacklog() {
    // A resource updated while in flight keeps its place: Observation's oldest change is a minute old.
    List<TypeBacklog> backlog = List.of(
        waiting("Observation", BATCH_MAX, Duration.ofMinutes(1)),
        waiting("Patient", 10, Duration.ofSeconds(3)));

    TypeScheduler.Decision decision = scheduler(1).decide(backlog, Set.of(), Set.of(), Map.of(),
        Map.of("Observation", 40L, "Patient", 39L), NOW);

    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void aTypeBackFromIdle_goesAheadOfTheLeastServedWaitingType_byNoMoreThanOneTurn() {
    List<TypeBacklog> backlog = List.of(
        waiting("Observation", 10, Duration.ofMinutes(1)),
        waiting("Condition", 10, Duration.ofMinutes(1)),
        waiting("Patient", 1, Duration.ofSeconds(3)));
    // Patient had 2 turns (long ago), the busy types 300 and 302: Patient counts as having had
    // 299 and goes first; it cannot claim the 297 turns it saved.
    Map<String, Long> turns = Map.of("Observation", 300L, "Condition", 302L, "Patient", 2L);

    TypeScheduler.Decision decision = scheduler(3).decide(backlog, Set.of(), Set.of(), Map.of(), turns, NOW);

    assertThat(decision.send()).containsExactly("Patient", "Observation", "Condition");
  }

  @Test
  void aTypeBackFromIdle_countsLevelWithTheBusyTypes_lessOneTurn_soATypeDueTwoTurnsBehindStillGoesFirst() {
    List<TypeBacklog> backlog = List.of(
        waiting("Observation", 10, Duration.ofMinutes(1)),
        waiting("Condition", 10, Duration.ofMinutes(1)),
        waiting("Patient", 1, Duration.ofSeconds(3)));
    Map<String, Long> turns = Map.of("Observation", 300L, "Condition", 298L, "Patient", 2L);

    TypeScheduler.Decision decision = scheduler(1).decide(backlog, Set.of(), Set.of(), Map.of(), turns, NOW);

    // the floor is 298 − 1 = 297: Patient counts 297, Condition 298
    assertThat(decision.send()).containsExactly("Patient");
  }

  @Test
  void ofTwoTypesBackFromIdle_theOneThatHadFewerTurnsGoesFirst() {
    List<TypeBacklog> backlog = List.of(
        waiting("Observation", 10, Duration.ofMinutes(1)),
        waiting("Patient", 1, Duration.ofSeconds(3)),
        waiting("Device", 1, Duration.ofSeconds(5)));

    TypeScheduler.Decision decision = scheduler(1).decide(backlog, Set.of(), Set.of(), Map.of(),
        Map.of("Observation", 300L, "Patient", 2L, "Device", 4L), NOW);

    assertThat(decision.send()).containsExactly("Patient");
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

    TypeScheduler.Decision decision = scheduler(3).decide(
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
    Map<String, Long> turns = new HashMap<>();
    Map<String, Integer> lastTurn = new HashMap<>();
    Map<String, Integer> longestWait = new HashMap<>();
    Set<String> inFlight = new HashSet<>();
    boolean quietPending = false;
    Instant quietSince = null;
    for (int r = 0; r < rounds; r++) {
      Instant now = start.plus(round.multipliedBy(r));
      for (String type : inFlight) {
        turns.merge(type, 1L, Long::sum);
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
          backlog, Set.copyOf(inFlight), Set.of(), Map.of(), Map.copyOf(turns), now);
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
    // Nine types, four slots: nobody waits more than ⌈9 / 4⌉ = 3 rounds between turns.
    assertThat(longestWait.values()).allSatisfy(rounds -> assertThat(rounds).isLessThanOrEqualTo(3));
    assertThat(longestWait.get("Quiet")).as("the quiet type's lone change").isLessThanOrEqualTo(2);
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
  void twentyBusyTypesOnFourSlots_aQuietTypesLoneChange_goesInTheNextRound_notAfterTheBusyTypesWhoseTurnCameFirst() {
    Map<String, Integer> longestWait = simulate(20, 4, 60, 37);

    // Busy types wait ⌈21 / 4⌉ = 6 rounds between turns; the quiet one takes the next free slot.
    assertThat(longestWait.values()).allSatisfy(rounds -> assertThat(rounds).isLessThanOrEqualTo(6));
    assertThat(longestWait.get("Quiet")).isLessThanOrEqualTo(1);
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
