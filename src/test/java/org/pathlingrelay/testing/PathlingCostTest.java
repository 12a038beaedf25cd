package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class PathlingCostTest {

  @Test
  void aWriteCostsTheCommitPlusTheTimePerResource() {
    PathlingCost cost = PathlingCost.of(Duration.ofMillis(150), Duration.ofNanos(200_000));

    assertThat(cost.durationFor(0)).isEqualTo(Duration.ofMillis(150));
    assertThat(cost.durationFor(1_000)).isEqualTo(Duration.ofMillis(350));
    assertThat(cost.secondsFor(1_000)).isEqualTo(0.35);
    assertThat(PathlingCost.FREE.durationFor(5_000)).isZero();
  }

  @Test
  void theCalibratedProfile_chargesWhatARealPathlingMeasured() {
    PathlingCost real = PathlingCost.PATHLING_2_0_1;

    assertThat(real.secondsFor(1_000)).isBetween(2.5, 4.4); // a batch of 1,000 PUTs
    assertThat(real.secondsFor(1)).isBetween(1.8, 3.9); // one PUT
    assertThat(real.writeMillis(0, 1, 0) / 1000).isBetween(3.4, 3.9); // one DELETE of a held resource
    assertThat(real.writeMillis(0, 0, 1) / 1000).isBetween(1.2, 1.5); // one DELETE answered 404
    assertThat(real.countDuration().toMillis()).isBetween(400L, 600L);
    // $import of 71,600 resources in 13 types: 132 s
    assertThat(13 * real.importDuration(71_600 / 13).toMillis() / 1000.0).isBetween(128.0, 136.0);
    assertThat(real.cores()).isEqualTo(2);
  }

  @Test
  void eachDeleteInABatch_runsOnItsOwn() {
    PathlingCost real = PathlingCost.PATHLING_2_0_1;

    assertThat(real.writeMillis(1_000, 2, 1)).isEqualTo(3_450 + 2 * 3_650 + 1_350, within());
    assertThat(real.writeMillis(0, 3, 0)).isEqualTo(3 * 3_650, within());
  }

  @Test
  void theTwoFigureModel_chargesADeleteAsAWriteOfOne() {
    PathlingCost cost = new PathlingCost(100, 1);

    assertThat(cost.writeMillis(0, 1, 0)).isEqualTo(101);
    assertThat(cost.writeMillis(0, 0, 1)).isEqualTo(101);
    assertThat(cost.cores()).isZero();
  }

  @Test
  void describesItsScaleAgainstTheMeasuredPathling() {
    assertThat(PathlingCost.PATHLING_2_0_1.scaled(0.1).describe()).isEqualTo(
        "285 ms per request + 0.06 ms per resource, DELETE 365 ms (held) / 135 ms (absent),"
            + " 2 cores shared by concurrent requests (0.10 x the midpoints measured on a real Pathling 2.0.1)");
    assertThat(PathlingCost.PATHLING_2_0_1.describe()).endsWith("(the midpoints measured on a real Pathling 2.0.1)");
  }

  @Test
  void negativeCosts_areRefused() {
    assertThatThrownBy(() -> new PathlingCost(-1, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  private static Offset<Double> within() {
    return Offset.offset(1e-6);
  }
}
