package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.testing.PathlingCost;

class LagStreamTest {

  private static final List<String> BUSY = IntStream.range(0, 20).mapToObj(i -> "Type" + (char) ('A' + i)).toList();

  @Test
  void theStream_hasTwentyBusyTypes_tenPercentDeletes_aThirdOfThemOfResourcesCreatedInTheSameMinute() {
    LagStream stream = LagStream.generate(BUSY, List.of("Quiet"), 10, 6_000, 50, "s-", 1);

    assertThat(stream.events()).hasSize(6_000);
    assertThat(stream.events().stream().filter(e -> !e.quiet()).map(LagStream.Event::type).distinct()).hasSize(20);
    double deleteShare = (double) stream.deletes() / stream.events().size();
    assertThat(deleteShare).isBetween(0.085, 0.115);
    assertThat((double) stream.sameMinuteDeletes() / stream.deletes()).isBetween(0.25, 0.42);
    assertThat(stream.heldBefore()).hasSize((int) (stream.deletes() - stream.sameMinuteDeletes()));
    assertThat(stream.events().stream().filter(LagStream.Event::quiet)).hasSize(120)
        .allMatch(e -> e.type().equals("Quiet") && !e.delete());
  }

  @Test
  void aSameMinuteDelete_isOfAResourceTheStreamCreatedLessThanAMinuteBefore() {
    LagStream stream = LagStream.generate(BUSY, List.of("Quiet"), 10, 3_000, 0, "s-", 2);
    List<LagStream.Event> events = stream.events();

    for (int i = 0; i < events.size(); i++) {
      LagStream.Event delete = events.get(i);
      if (!delete.delete() || stream.heldBefore().contains(delete.key())) {
        continue;
      }
      LagStream.Event created = events.stream().filter(e -> e.key().equals(delete.key()) && e.version() == 1)
          .findFirst().orElseThrow();
      assertThat(delete.atSeconds() - created.atSeconds()).isBetween(0.0, 60.0);
    }
  }

  @Test
  void updates_carryTheNextVersion() {
    LagStream stream = LagStream.generate(BUSY, List.of("Quiet"), 10, 3_000, 0, "s-", 3);

    assertThat(stream.events().stream().filter(e -> !e.delete() && e.version() > 1)).isNotEmpty();
    stream.events().stream().filter(e -> !e.delete() && e.version() > 1).forEach(update ->
        assertThat(stream.events()).anyMatch(e -> e.key().equals(update.key()) && e.version() == update.version() - 1
            && e.atSeconds() < update.atSeconds()));
  }

  @Test
  void theEndState_costsOneBatchPerTypeItLeaves_andADeletePerResourceHeldBefore_nothingForCreatedThenDeleted() {
    PathlingCost cost = new PathlingCost(1_000, 1, 100, 10, 0, 0, 2);
    LagStream stream = LagStream.of(List.of(
        new LagStream.Event(0, "Patient", "a", 1, false, false),
        new LagStream.Event(1, "Patient", "a", 2, false, false),
        new LagStream.Event(2, "Patient", "b", 1, false, false),
        new LagStream.Event(3, "Patient", "b", 0, true, false), // created and deleted: costs nothing
        new LagStream.Event(4, "Condition", "c", 1, false, false),
        new LagStream.Event(5, "Condition", "held-1", 0, true, false),
        new LagStream.Event(6, "Condition", "held-2", 0, true, false)),
        Set.of("Condition/held-1", "Condition/held-2"));

    // Patient: one batch of 1 (a, its last version); Condition: one batch of 1 and two held deletes
    assertThat(stream.endStateMillis(cost)).isEqualTo(2 * (1_000 + 1) + 2 * 100);
  }

  @Test
  void quietTypes_getACreateEach_inTurn_everySoManyNotifications() {
    LagStream stream = LagStream.generate(BUSY, List.of("Q1", "Q2", "Q3"), 10, 3_000, 300, "s-", 4);

    List<LagStream.Event> quiet = stream.events().stream().filter(LagStream.Event::quiet).toList();
    assertThat(quiet).hasSize(30);
    assertThat(quiet.stream().filter(e -> e.type().equals("Q2"))).hasSize(10)
        .allSatisfy(e -> assertThat(e.version()).isEqualTo(1));
    for (int i = 3; i < quiet.size(); i++) {
      // each type every 300 notifications at 10/s: every 30 s
      assertThat(quiet.get(i).atSeconds() - quiet.get(i - 3).atSeconds()).isEqualTo(30.0, within(1e-6));
      assertThat(quiet.get(i).type()).isEqualTo(quiet.get(i - 3).type());
    }
  }
}
