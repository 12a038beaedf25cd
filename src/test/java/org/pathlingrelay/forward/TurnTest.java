package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/** What one type sends in one turn: never more than two requests' worth. */
class TurnTest {

  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");

  private long seq;

  private PendingChange upsert(String id) {
    return new PendingChange(++seq, Change.upsert(new ResourceKey("Observation", id),
        new VersionStamp(1L, null), "{\"resourceType\":\"Observation\",\"id\":\"" + id + "\"}"), NOW);
  }

  private PendingChange delete(String id) {
    return new PendingChange(++seq, Change.delete(new ResourceKey("Observation", id), VersionStamp.UNKNOWN), NOW);
  }

  private PendingChange absentDelete(String id) {
    return new PendingChange(
        ++seq, Change.delete(new ResourceKey("Observation", id), new VersionStamp(2L, null)), NOW, true);
  }

  private static List<String> ids(List<PendingChange> changes) {
    return changes.stream().map(c -> c.operation() + " " + c.key().id()).toList();
  }

  @Test
  void batchMode_upsertsOnly_allGoInOneBundle() {
    List<PendingChange> pending = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      pending.add(upsert("u" + i));
    }

    assertThat(Turn.take(pending, ForwardMode.BATCH)).isEqualTo(pending);
  }

  @Test
  void batchMode_manyDeletes_onlyTheOldestTwoGo_notOneRequestPerDeleteOfTheBatch() {
    List<PendingChange> pending = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      pending.add(delete("d" + i));
    }

    assertThat(ids(Turn.take(pending, ForwardMode.BATCH))).containsExactly("DELETE d0", "DELETE d1");
  }

  @Test
  void batchMode_mixedStream_takesAllUpsertsAsOneBundle_andTheOldestDelete() {
    List<PendingChange> pending = List.of(
        upsert("u1"), delete("d1"), upsert("u2"), delete("d2"), upsert("u3"), delete("d3"));

    assertThat(ids(Turn.take(pending, ForwardMode.BATCH)))
        .containsExactly("UPSERT u1", "DELETE d1", "UPSERT u2", "UPSERT u3");
  }

  @Test
  void batchMode_deletesAhead_theUpsertsStillGoThisTurn_besideTheOldestDelete() {
    List<PendingChange> pending = List.of(delete("d1"), delete("d2"), upsert("u1"), delete("d3"), upsert("u2"));

    assertThat(ids(Turn.take(pending, ForwardMode.BATCH))).containsExactly("DELETE d1", "UPSERT u1", "UPSERT u2");
  }

  @Test
  void updateMode_deletesAhead_theOldestUpsertStillGoesThisTurn() {
    List<PendingChange> pending = List.of(delete("d1"), delete("d2"), upsert("u1"), upsert("u2"));

    assertThat(ids(Turn.take(pending, ForwardMode.UPDATE))).containsExactly("DELETE d1", "UPSERT u1");
  }

  @Test
  void deletesOfWhatPathlingCannotHold_allGo_withoutUsingTheBudget() {
    List<PendingChange> pending = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      pending.add(absentDelete("gone" + i));
    }
    pending.add(delete("d1"));
    pending.add(delete("d2"));
    pending.add(delete("d3"));

    List<String> turn = ids(Turn.take(pending, ForwardMode.BATCH));

    assertThat(turn).hasSize(302).endsWith("DELETE d1", "DELETE d2").doesNotContain("DELETE d3");
  }

  @Test
  void updateMode_everyChangeIsARequest_soTwoGo() {
    List<PendingChange> pending = List.of(upsert("u1"), upsert("u2"), delete("d1"), upsert("u3"));

    assertThat(ids(Turn.take(pending, ForwardMode.UPDATE))).containsExactly("UPSERT u1", "UPSERT u2");
    assertThat(Turn.readLimit(ForwardMode.UPDATE, 5_000)).isEqualTo(2);
    assertThat(Turn.readLimit(ForwardMode.BATCH, 5_000)).isEqualTo(5_000);
  }

  @Test
  void nothingPending_nothingToSend() {
    assertThat(Turn.take(List.of(), ForwardMode.BATCH)).isEmpty();
  }
}
