package org.pathlingrelay.verify;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The differences the scheduled checks settled, type by type: kept for {@code /status}, read by
 * the gauge {@code relay_verify_differences{type,kind}}, and logged once per state: when a type
 * starts to differ, when its numbers change, and once when it is equal again. Not every run.
 */
final class StandingDifferences {

  static final String COUNT = "count";
  /** The kinds, in the order they are shown. */
  static final List<String> KINDS = List.of(COUNT, name(DifferenceKind.MISSING), name(DifferenceKind.STALE),
      name(DifferenceKind.EXTRA), name(DifferenceKind.DUPLICATED));
  static final String GAUGE = "relay.verify.differences";

  private static final Logger log = LoggerFactory.getLogger(ScheduledVerify.class);

  private final MeterRegistry meters;
  private final String howToRepair;
  private final Map<String, TypeStanding> standings = new TreeMap<>();
  /** What was last logged of each type that differed: its non-zero differences. */
  private final Map<String, Map<String, Long>> logged = new HashMap<>();
  private final Set<String> unsettled = new TreeSet<>();
  private final Set<String> notServed = new TreeSet<>();
  /** Held here, so that the gauges always read a number (a gauge of a collected value reads NaN). */
  private final Map<String, GaugeValue> gauges = new HashMap<>();

  /** @param howToRepair the command that mends a difference, for the log */
  StandingDifferences(MeterRegistry meters, String howToRepair) {
    this.meters = meters;
    this.howToRepair = howToRepair;
  }

  static String name(DifferenceKind kind) {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  /**
   * A check of the type ran with nothing of it pending in the outbox: {@code measured} replaces
   * those kinds. The kinds it did not measure (a counts-only check's: missing, stale, extra,
   * duplicated) keep what the last full check found while the counts stay where that check saw
   * them; once the counts have moved, that finding described another state, and is dropped (its
   * gauges too) until the next full check.
   */
  synchronized void settle(String type, long sourceCount, long pathlingCount, Map<String, Long> measured,
      Instant at) {
    unsettled.remove(type);
    notServed.remove(type);
    TypeStanding before = standings.get(type);
    boolean carry = before != null && before.sourceCount() == sourceCount && before.pathlingCount() == pathlingCount;
    Map<String, Long> differences = new LinkedHashMap<>();
    for (String kind : KINDS) {
      Long value = measured.containsKey(kind) ? measured.get(kind)
          : carry ? before.differences().get(kind) : null;
      if (value != null) {
        differences.put(kind, value);
        gauge(type, kind).set(value);
      } else {
        dropGauge(type, kind);
      }
    }
    TypeStanding now = new TypeStanding(type, sourceCount, pathlingCount, differences, at);
    standings.put(type, now);
    logChange(now);
  }

  /** A check skipped the type: changes of it were pending, so a difference could be one in flight. */
  synchronized void unsettled(String type) {
    unsettled.add(type);
  }

  /** Pathling does not serve the type: it cannot hold any of it, so nothing was compared. */
  synchronized void notServed(String type) {
    if (notServed.add(type)) {
      log.warn("Verify: Pathling does not serve {}, so it is not compared", type);
    }
  }

  synchronized List<TypeStanding> differing() {
    return standings.values().stream().filter(TypeStanding::differs).toList();
  }

  synchronized List<String> unsettled() {
    return List.copyOf(unsettled);
  }

  synchronized int settledTypes() {
    return standings.size();
  }

  private AtomicLong gauge(String type, String kind) {
    return gauges.computeIfAbsent(type + "\n" + kind, key -> {
      AtomicLong value = new AtomicLong();
      Gauge gauge = Gauge.builder(GAUGE, value, AtomicLong::get)
          .description("Resources by which Pathling differs from the source, as the last scheduled check found")
          .tag("type", type).tag("kind", kind)
          .strongReference(true)
          .register(meters);
      return new GaugeValue(value, gauge);
    }).value();
  }

  private void dropGauge(String type, String kind) {
    GaugeValue dropped = gauges.remove(type + "\n" + kind);
    if (dropped != null) {
      meters.remove(dropped.gauge());
    }
  }

  private record GaugeValue(AtomicLong value, Gauge gauge) {}

  private void logChange(TypeStanding now) {
    Map<String, Long> nonZero = now.differences().entrySet().stream().filter(e -> e.getValue() > 0)
        .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, LinkedHashMap::new));
    Map<String, Long> last = logged.get(now.type());
    if (nonZero.isEmpty()) {
      if (last != null) {
        logged.remove(now.type());
        log.info("Verify: {} is equal again: Pathling holds {} ({} resource(s))", now.type(),
            now.differences().size() > 1 ? "what the source holds" : "as many as the source (counts only)",
            now.sourceCount());
      }
      return;
    }
    if (nonZero.equals(last)) {
      return;
    }
    logged.put(now.type(), nonZero);
    List<String> parts = new ArrayList<>();
    nonZero.forEach((kind, value) -> parts.add(kind + " " + value));
    log.warn("Verify: {} differs from the source: {} (source {}, Pathling {}). The relay does not mend it by"
            + " itself; to mend it: {} --type {}", now.type(), String.join(", ", parts), now.sourceCount(),
        now.pathlingCount(), howToRepair, now.type());
  }
}
