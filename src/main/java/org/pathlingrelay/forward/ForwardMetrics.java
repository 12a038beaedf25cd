package org.pathlingrelay.forward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.pathlingrelay.outbox.PendingChange;

/** What the forwarder measures, for {@code /metrics} and {@code /status}. */
final class ForwardMetrics {

  private final InstantSource clock;
  private final DistributionSummary batchSizes;
  private final Timer successes;
  private final Timer failures;
  private final Timer lag;
  private final Counter delivered;
  private final Counter deadLettered;
  private final Counter deletesSkipped;
  private final AtomicLong requests = new AtomicLong();
  private final AtomicLong largestBatch = new AtomicLong();
  private final AtomicLong lastBatch = new AtomicLong();
  private final AtomicReference<Instant> lastSuccess = new AtomicReference<>();

  ForwardMetrics(InstantSource clock, MeterRegistry meters) {
    this.clock = clock;
    this.batchSizes =
        DistributionSummary.builder("relay.forward.request.size")
            .description("Changes carried by one request to Pathling")
            .publishPercentiles(0.5, 0.99)
            .register(meters);
    this.successes =
        Timer.builder("relay.forward.requests")
            .description("Requests to Pathling, with their retries")
            .tag("outcome", "success")
            .register(meters);
    this.failures =
        Timer.builder("relay.forward.requests")
            .description("Requests to Pathling, with their retries")
            .tag("outcome", "failure")
            .register(meters);
    this.lag =
        Timer.builder("relay.forward.lag")
            .description("From a change's acknowledgement to the source until Pathling confirmed it")
            .publishPercentiles(0.5, 0.99)
            .register(meters);
    this.delivered =
        Counter.builder("relay.forward.delivered")
            .description("Changes Pathling confirmed")
            .register(meters);
    this.deletesSkipped =
        Counter.builder("relay.forward.deletes.skipped")
            .description("Deletes that needed no request: Pathling could not hold the resource")
            .register(meters);
    this.deadLettered =
        Counter.builder("relay.forward.dead.lettered")
            .description("Changes Pathling refused, moved to dead letters")
            .register(meters);
  }

  void request(int size, Runnable call) {
    long start = System.nanoTime();
    requests.incrementAndGet();
    try {
      call.run();
      successes.record(Duration.ofNanos(System.nanoTime() - start));
      batchSizes.record(size);
      lastBatch.set(size);
      largestBatch.accumulateAndGet(size, Math::max);
      lastSuccess.set(clock.instant());
    } catch (RuntimeException e) {
      failures.record(Duration.ofNanos(System.nanoTime() - start));
      throw e;
    }
  }

  void delivered(List<PendingChange> changes) {
    long now = clock.millis();
    for (PendingChange change : changes) {
      // Milliseconds, not Durations: a backfill records this for every one of its resources.
      lag.record(now - change.receivedAt().toEpochMilli(), TimeUnit.MILLISECONDS);
    }
    delivered.increment(changes.size());
  }

  void deleteSkipped() {
    deletesSkipped.increment();
  }

  void deadLettered() {
    deadLettered.increment();
  }

  ForwarderStatus.Counts counts() {
    return new ForwarderStatus.Counts(
        requests.get(),
        (long) delivered.count(),
        (long) deadLettered.count(),
        lastBatch.get(),
        largestBatch.get(),
        batchSizes.count() == 0 ? 0 : batchSizes.mean(),
        lastSuccess.get());
  }
}
