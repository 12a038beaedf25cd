package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class PathlingCpuTest {

  @Test
  void requestsWithinTheCores_takeTheirOwnTime() throws Exception {
    assertThat(secondsForParallel(new PathlingCpu(2), 2, Duration.ofMillis(300))).isBetween(0.28, 0.5);
  }

  @Test
  void moreRequestsThanCores_shareThem() throws Exception {
    // 4 requests of 300 ms on 2 cores: each runs at half speed, all done after 600 ms
    assertThat(secondsForParallel(new PathlingCpu(2), 4, Duration.ofMillis(300))).isBetween(0.58, 0.85);
  }

  @Test
  void withoutCores_nothingIsShared() throws Exception {
    assertThat(secondsForParallel(new PathlingCpu(0), 4, Duration.ofMillis(300))).isBetween(0.28, 0.5);
  }

  private static double secondsForParallel(PathlingCpu cpu, int requests, Duration each) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(requests);
    try {
      long start = System.nanoTime();
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < requests; i++) {
        done.add(threads.submit(() -> {
          cpu.spend(each);
          return null;
        }));
      }
      for (Future<?> future : done) {
        future.get();
      }
      assertThat(cpu.inProgress()).isZero();
      return (System.nanoTime() - start) / 1e9;
    } finally {
      threads.shutdownNow();
    }
  }
}
