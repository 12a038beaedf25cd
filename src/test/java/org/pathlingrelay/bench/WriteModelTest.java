package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.testing.PathlingCost;

class WriteModelTest {

  private static final PathlingCost COST = new PathlingCost(20, 0.01, 60, 10, 0, 0, 0);

  @Test
  void aDeleteOfAHeldResource_costsMoreThanA404_andBothCount() {
    WriteModel model = new WriteModel(COST, true);
    model.hold(List.of("Patient/held"));

    assertThat(write(model, List.of(), List.of("Patient/held"))).isEqualTo(WriteModel.Outcome.DONE);
    assertThat(write(model, List.of(), List.of("Patient/held"))).isEqualTo(WriteModel.Outcome.NOT_FOUND);

    WriteModel.Stats stats = model.stats();
    assertThat(stats.modelledSeconds()).isEqualTo(0.060 + 0.010, within(1e-9));
    assertThat(stats.deleteRequests()).isEqualTo(2);
    assertThat(stats.absentDeletes()).isEqualTo(1);
    assertThat(stats.entries()).isEqualTo(2); // a 404 leaves the resource gone, as asked
    assertThat(model.completedAt("Patient/held")).isPresent();
  }

  @Test
  void aBatchDeletingAnAbsentResource_failsWhole() {
    WriteModel model = new WriteModel(COST, false);

    assertThat(write(model, List.of("Patient/1"), List.of("Patient/gone"))).isEqualTo(WriteModel.Outcome.NOT_FOUND);

    assertThat(model.stats().entries()).isZero();
    assertThat(write(model, List.of(), List.of("Patient/1"))).isEqualTo(WriteModel.Outcome.NOT_FOUND); // not applied
  }

  @Test
  void upsertsAreHeldAfterwards_andABatchPaysTheMergeOnce() {
    WriteModel model = new WriteModel(COST, false);

    assertThat(write(model, List.of("Patient/1", "Patient/2"), List.of())).isEqualTo(WriteModel.Outcome.DONE);
    assertThat(write(model, List.of("Patient/3"), List.of("Patient/1"))).isEqualTo(WriteModel.Outcome.DONE);

    assertThat(model.stats().modelledSeconds()).isEqualTo((20 + 0.02) / 1000 + (20 + 0.01 + 60) / 1000, within(1e-9));
  }

  private static WriteModel.Outcome write(WriteModel model, List<String> upserts, List<String> deletes) {
    return model.write(Set.of("Patient"), upserts, deletes, System.nanoTime());
  }
}
