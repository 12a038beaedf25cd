package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.outbox.TypeBacklog;

/**
 * The forwarder's whole decision, as a pure function: given the backlog, the {@link DispatchState}
 * (in flight, held, resting, when turns ended) and the time from a fake clock, which types go now,
 * in which order, and when the next decision comes. Nothing waits: the tests move the clock.
 */
class DispatchDecisionTest {

  private static final Instant START = Instant.parse("2026-12-02T12:00:00Z");
  private static final Duration LINGER = Duration.ofMillis(200);
  private static final int BATCH_MAX = 100;

  /** Time as the tests set it. */
  private static final class FakeClock implements InstantSource {
    private Instant now = START;

    void advance(Duration by) {
      now = now.plus(by);
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private final FakeClock clock = new FakeClock();
  /** Per type: how many changes wait and since when. */
  private final Map<String, TypeBacklog> backlog = new TreeMap<>();
  private DispatchState state = DispatchState.INITIAL;

  private void pending(String type, long count, Duration ago) {
    backlog.put(type, new TypeBacklog(type, count, clock.instant().minus(ago)));
  }

  private TypeScheduler.Decision decide(int parallelTypes) {
    TypeScheduler scheduler = new TypeScheduler(parallelTypes, BATCH_MAX, Linger.of(LINGER));
    return scheduler.decide(List.copyOf(backlog.values()), state, clock.instant());
  }

  /** Decides and starts the chosen turns, as the forwarder does in one critical section. */
  private List<String> dispatch(int parallelTypes) {
    TypeScheduler.Decision decision = decide(parallelTypes);
    for (String type : decision.send()) {
      state = state.dispatched(type);
    }
    return decision.send();
  }

  private void finish(String type) {
    state = state.finished(type, clock.instant(), Duration.ZERO);
  }

  @Test
  void manyBusyTypes_twoSlots_turnsGoRoundInFairOrder_whateverTheLoad() {
    // Six types, each always backlogged with a full batch whose oldest change is an hour old.
    for (String type : List.of("Condition", "Encounter", "Immunization", "Observation", "Patient", "Procedure")) {
      pending(type, BATCH_MAX, Duration.ofHours(1));
    }
    List<List<String>> rounds = new ArrayList<>();
    for (int round = 0; round < 6; round++) {
      List<String> sent = dispatch(2);
      rounds.add(sent);
      clock.advance(Duration.ofSeconds(3));
      sent.forEach(this::finish);
    }

    assertThat(rounds).containsExactly(
        List.of("Condition", "Encounter"), List.of("Immunization", "Observation"), List.of("Patient", "Procedure"),
        List.of("Condition", "Encounter"), List.of("Immunization", "Observation"), List.of("Patient", "Procedure"));
  }

  @Test
  void aQuietTypesLoneChange_goesBeforeBusyTypesJustServed() {
    pending("Observation", BATCH_MAX, Duration.ofHours(1));
    pending("Condition", BATCH_MAX, Duration.ofHours(1));
    assertThat(dispatch(1)).containsExactly("Condition");
    clock.advance(Duration.ofSeconds(3));
    pending("Patient", 1, LINGER);
    finish("Condition");

    // Observation waited longest (an hour); then Patient (since its change), not Condition again.
    assertThat(dispatch(1)).containsExactly("Observation");
    clock.advance(Duration.ofSeconds(3));
    finish("Observation");
    assertThat(dispatch(1)).containsExactly("Patient");
  }

  @Test
  void typeInFlight_isNotSentAgain_evenWithAFullBatchWaiting() {
    pending("Patient", BATCH_MAX, Duration.ofMinutes(1));
    assertThat(dispatch(4)).containsExactly("Patient");

    clock.advance(Duration.ofSeconds(1));
    assertThat(dispatch(4)).as("one write per type in flight").isEmpty();
    finish("Patient");
    assertThat(dispatch(4)).containsExactly("Patient");
  }

  @Test
  void startingASecondTurnOfATypeInFlight_isRefused() {
    state = state.dispatched("Patient");

    assertThatThrownBy(() -> state.dispatched("Patient")).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("in flight");
  }

  @Test
  void heldType_isSkipped_andItsSlotGoesToTheNextType_untilReleased() {
    pending("Patient", 5, Duration.ofSeconds(9));
    pending("Condition", 5, Duration.ofSeconds(1));
    state = state.held(Set.of("Patient"));

    assertThat(dispatch(1)).containsExactly("Condition");
    finish("Condition");
    backlog.remove("Condition");
    assertThat(dispatch(1)).as("still held").isEmpty();

    state = state.released(Set.of("Patient"));
    assertThat(dispatch(1)).containsExactly("Patient");
  }

  @Test
  void startingATurnOfAHeldType_isRefused() {
    state = state.held(Set.of("Patient"));

    assertThatThrownBy(() -> state.dispatched("Patient")).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("held");
  }

  @Test
  void holdOfEveryType_sendsNothing_whateverIsDue() {
    pending("Patient", BATCH_MAX, Duration.ofMinutes(1));
    pending("Condition", 1, Duration.ofMinutes(1));
    state = state.held(Set.of());

    TypeScheduler.Decision decision = decide(4);

    assertThat(decision.send()).isEmpty();
    assertThatThrownBy(() -> state.dispatched("Condition")).isInstanceOf(IllegalStateException.class);
    state = state.released(Set.of());
    assertThat(dispatch(4)).containsExactly("Condition", "Patient");
  }

  @Test
  void twoHoldsOfOneType_theTypeStaysHeldUntilBothAreReleased() {
    pending("Patient", 5, Duration.ofSeconds(9));
    state = state.held(Set.of("Patient")).held(Set.of("Patient", "Condition"));

    state = state.released(Set.of("Patient", "Condition"));
    assertThat(dispatch(4)).isEmpty();
    state = state.released(Set.of("Patient"));
    assertThat(dispatch(4)).containsExactly("Patient");
  }

  @Test
  void holdWhileATurnIsInFlight_waitsForIt_andNoNewTurnStarts() {
    pending("Patient", 5, Duration.ofSeconds(9));
    assertThat(dispatch(4)).containsExactly("Patient");

    state = state.held(Set.of("Patient"));
    assertThat(state.inFlightAmong(Set.of("Patient"))).as("the hold waits").isTrue();
    assertThat(state.inFlightAmong(Set.of("Condition"))).isFalse();
    assertThat(state.inFlightAmong(Set.of())).as("a hold of every type waits too").isTrue();

    finish("Patient");
    assertThat(state.inFlightAmong(Set.of("Patient"))).as("the hold may return").isFalse();
    assertThat(dispatch(4)).isEmpty();
  }

  @Test
  void smallYoungBacklog_waitsForTheLinger_andTheNextDecisionComesExactlyThen() {
    pending("Patient", 3, Duration.ZERO);
    clock.advance(Duration.ofMillis(50));

    TypeScheduler.Decision decision = decide(4);
    assertThat(decision.send()).isEmpty();
    assertThat(decision.wakeBy()).isEqualTo(START.plus(LINGER));

    clock.advance(Duration.between(clock.instant(), decision.wakeBy()));
    assertThat(dispatch(4)).containsExactly("Patient");
  }

  @Test
  void fullBatch_isSentAtOnce_withoutWaitingForTheLinger() {
    pending("Patient", BATCH_MAX, Duration.ZERO);
    pending("Condition", BATCH_MAX - 1, Duration.ZERO);

    TypeScheduler.Decision decision = decide(4);

    assertThat(decision.send()).containsExactly("Patient");
    assertThat(decision.wakeBy()).as("Condition's linger").isEqualTo(START.plus(LINGER));
  }

  @Test
  void aTypeDueVerySoon_theNextDecisionStillWaitsForTheScanFloor() {
    pending("Patient", 1, LINGER.minusMillis(5));

    TypeScheduler.Decision decision = decide(4);

    assertThat(decision.next()).isEqualTo(Duration.ofMillis(5));
    assertThat(decision.notBefore()).isEqualTo(START.plus(TypeScheduler.SCAN_FLOOR));
    assertThat(decision.wakeBy()).isEqualTo(START.plus(TypeScheduler.SCAN_FLOOR));
  }

  @Test
  void nothingPending_theNextDecisionComesAfterTheIdleInterval() {
    TypeScheduler.Decision decision = decide(4);

    assertThat(decision.send()).isEmpty();
    assertThat(decision.notBefore()).isEqualTo(START.plus(TypeScheduler.SCAN_FLOOR));
    assertThat(decision.wakeBy()).isEqualTo(START.plus(TypeScheduler.IDLE));
  }

  @Test
  void allSlotsInFlight_theNextDecisionWaitsForAFinishedTurn_orTheIdleInterval() {
    pending("Patient", 5, Duration.ofMinutes(5));
    pending("Condition", 5, Duration.ofMinutes(5));
    assertThat(dispatch(1)).containsExactly("Condition");

    TypeScheduler.Decision decision = decide(1);

    assertThat(decision.send()).isEmpty();
    assertThat(decision.wakeBy()).isEqualTo(START.plus(TypeScheduler.IDLE));
  }

  @Test
  void failedTurn_restsFromWhenItEnded_andTheNextDecisionComesWhenTheRestEnds() {
    pending("Patient", 5, Duration.ofSeconds(9));
    assertThat(dispatch(4)).containsExactly("Patient");
    clock.advance(Duration.ofSeconds(2));
    state = state.finished("Patient", clock.instant(), Duration.ofMillis(700));

    TypeScheduler.Decision decision = decide(4);
    assertThat(decision.send()).isEmpty();
    assertThat(state.restingAt(clock.instant())).containsExactly("Patient");
    assertThat(decision.wakeBy()).isEqualTo(START.plusSeconds(2).plusMillis(700));

    clock.advance(Duration.ofMillis(700));
    assertThat(state.restingAt(clock.instant())).isEmpty();
    assertThat(dispatch(4)).containsExactly("Patient");
  }

  @Test
  void successfulTurn_endsAnEarlierRest() {
    state = state.dispatched("Patient").finished("Patient", clock.instant(), Duration.ofSeconds(5));
    clock.advance(Duration.ofSeconds(5));
    state = state.dispatched("Patient").finished("Patient", clock.instant(), Duration.ZERO);

    assertThat(state.restingUntil()).isEmpty();
    assertThat(state.turnEndedAt()).containsEntry("Patient", clock.instant());
  }
}
