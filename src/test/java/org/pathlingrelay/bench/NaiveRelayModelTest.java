package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.testing.PathlingCost;

class NaiveRelayModelTest {

  private static final PathlingCost COST = new PathlingCost(1_000, 1, 3_000, 500, 0, 0, 0);

  @Test
  void aResourceCreatedAndDeletedBeforeItWentOut_stillCostsADelete_answered404() {
    LagStream stream = LagStream.of(List.of(
        new LagStream.Event(0.0, "Patient", "1", 1, false, false),
        new LagStream.Event(0.1, "Patient", "1", 0, true, false)), Set.of());

    NaiveRelayModel.Result result = new NaiveRelayModel(COST, 4, 5_000, 0.2).run(stream);

    assertThat(result.requests()).isEqualTo(1);
    assertThat(result.absentDeletes()).isEqualTo(1);
    assertThat(result.modelledSeconds()).isEqualTo(0.5, within(1e-9));
    assertThat(result.waitSeconds()[1]).isEqualTo(0.2 + 0.5 - 0.1, within(1e-6)); // the linger, then the 404
  }

  @Test
  void deletesAtTheFront_holdTheUpsertsBehindThemForAnotherTurn() {
    LagStream stream = LagStream.of(List.of(
        new LagStream.Event(0.0, "Patient", "a", 0, true, false),
        new LagStream.Event(0.0, "Patient", "b", 0, true, false),
        new LagStream.Event(0.0, "Patient", "c", 1, false, false)), Set.of("Patient/a", "Patient/b"));

    NaiveRelayModel.Result result = new NaiveRelayModel(COST, 4, 5_000, 0.2).run(stream);

    assertThat(result.requests()).isEqualTo(3);
    assertThat(result.deleteRequests()).isEqualTo(2);
    assertThat(result.modelledSeconds()).isEqualTo(3 + 3 + 1.001, within(1e-9));
    // two deletes of 3 s in the first turn, then the batch in the next: 0.2 + 6 + 1.001
    assertThat(result.waitSeconds()[2]).isEqualTo(7.201, within(1e-6));
  }

  @Test
  void requestsInProgress_shareTheCores() {
    PathlingCost oneCore = new PathlingCost(1_000, 0, 0, 0, 0, 0, 1);
    LagStream stream = LagStream.of(List.of(
        new LagStream.Event(0.0, "Patient", "1", 1, false, false),
        new LagStream.Event(0.0, "Condition", "1", 1, false, false)), Set.of());

    NaiveRelayModel.Result result = new NaiveRelayModel(oneCore, 4, 5_000, 0.2).run(stream);

    assertThat(result.modelledSeconds()).isEqualTo(2, within(1e-9));
    assertThat(result.waitSeconds()[0]).isEqualTo(0.2 + 2, within(1e-6)); // both at half speed
    assertThat(result.waitSeconds()[1]).isEqualTo(0.2 + 2, within(1e-6));
  }

  @Test
  void typesBeyondTheSlots_waitForOne_longestWaitingFirst() {
    LagStream stream = LagStream.of(List.of(
        new LagStream.Event(0.0, "A", "1", 1, false, false),
        new LagStream.Event(0.0, "B", "1", 1, false, false),
        new LagStream.Event(0.05, "C", "1", 1, false, false)), Set.of());

    NaiveRelayModel.Result result = new NaiveRelayModel(COST, 2, 5_000, 0.2).run(stream);

    assertThat(result.waitSeconds()[0]).isEqualTo(1.201, within(1e-6));
    assertThat(result.waitSeconds()[2]).isEqualTo(1.201 + 1.001 - 0.05, within(1e-6));
  }
}
