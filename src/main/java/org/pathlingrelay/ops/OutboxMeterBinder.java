package org.pathlingrelay.ops;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.time.InstantSource;
import java.util.function.Supplier;
import org.pathlingrelay.outbox.OutboxStats;

/**
 * Exposes the outbox's depth, age and dead letters. One scrape reads the outbox once: the gauges
 * share a snapshot that lives for a second.
 *
 * <p>Micrometer holds a gauge's or function counter's object weakly, and nobody else keeps this
 * binder: once collected, the gauges read NaN and the counters freeze. The gauges therefore hold
 * it strongly, which keeps it for the counters too (they have no such option) as long as the
 * registry lives.
 */
public final class OutboxMeterBinder implements MeterBinder {

  private final LoadingCache<Boolean, OutboxStats> snapshot;
  private final InstantSource clock;

  public OutboxMeterBinder(Supplier<OutboxStats> stats, InstantSource clock) {
    this.clock = clock;
    this.snapshot =
        Caffeine.newBuilder().expireAfterWrite(Duration.ofSeconds(1)).build(key -> stats.get());
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("relay.outbox.pending", this, b -> b.stats().pending())
        .description("Changes waiting to be forwarded")
        .strongReference(true)
        .register(registry);
    Gauge.builder("relay.outbox.oldest.age", this, OutboxMeterBinder::oldestAgeSeconds)
        .description("Age of the oldest pending change")
        .baseUnit("seconds")
        .strongReference(true)
        .register(registry);
    Gauge.builder("relay.outbox.dead.letters", this, b -> b.stats().deadLetters())
        .description("Changes Pathling refused, waiting for an operator")
        .strongReference(true)
        .register(registry);
    FunctionCounter.builder("relay.outbox.stale.drops", this, b -> b.stats().staleDrops())
        .description("Changes dropped because a newer version was already held or forwarded")
        .register(registry);
    FunctionCounter.builder("relay.outbox.pings", this, b -> b.stats().pings())
        .description("Notifications without payload")
        .register(registry);
  }

  private OutboxStats stats() {
    return snapshot.get(Boolean.TRUE);
  }

  private double oldestAgeSeconds() {
    OutboxStats stats = stats();
    if (stats.oldestPendingAt() == null) {
      return 0;
    }
    return (clock.millis() - stats.oldestPendingAt().toEpochMilli()) / 1000.0;
  }
}
