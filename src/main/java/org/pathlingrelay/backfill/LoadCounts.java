package org.pathlingrelay.backfill;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What this process loaded of an export, per type, and the errors the source reported: the
 * report's table. Download threads add to it concurrently.
 */
final class LoadCounts {

  private final Map<String, TypeTally> tallies = new ConcurrentHashMap<>();
  private final List<String> sourceErrors = new CopyOnWriteArrayList<>();

  TypeTally of(String type) {
    return tallies.computeIfAbsent(type, t -> new TypeTally());
  }

  void sourceError(String text) {
    sourceErrors.add(text);
  }

  /** The report of a run whose changes are all delivered. */
  BackfillReport report(Instant transactionTime, Duration elapsed, long forwarded, boolean resumed) {
    List<BackfillReport.TypeCounts> counts = new ArrayList<>();
    new TreeMap<>(tallies).forEach((type, tally) -> counts.add(tally.snapshot(type)));
    return new BackfillReport(
        transactionTime, counts, List.copyOf(sourceErrors), true, elapsed, forwarded, resumed, Optional.empty(), 0);
  }
}
