package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
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
  void describesItsScaleAgainstTheMeasuredPathling() {
    assertThat(new PathlingCost(500, 0.25).describe()).isEqualTo(
        "500 ms per request + 0.25 ms per resource (scaled model; a real Pathling measured 5000 ms + 2.5 ms)");
    assertThat(PathlingCost.MEASURED.describe()).endsWith("(as measured on a real Pathling)");
  }

  @Test
  void negativeCosts_areRefused() {
    assertThatThrownBy(() -> new PathlingCost(-1, 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
