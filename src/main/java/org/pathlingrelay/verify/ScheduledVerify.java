package org.pathlingrelay.verify;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.pathlingrelay.schedule.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code serve --verify-interval} and {@code --verify-full-interval}: Pathling checked against the
 * source on a schedule, read-only (mending stays {@code verify --repair}, the user's call). The
 * counts-only check compares each type's {@code _summary=count} on both sides; the full check is
 * {@code verify}'s comparison of ids and versions. Both run at start-up, then each on its
 * interval; when both are due, the full one runs (it counts too). One check at a time.
 *
 * <p>The live stream is in flight while a check runs, so a type with changes pending in the
 * outbox, before or after its check, is not judged: the difference could be those changes on
 * their way. It keeps what an earlier check settled and is listed as unsettled. With nothing
 * pending, every change the relay was told of has reached Pathling, so a difference is one the
 * stream will not mend (a lost notification, a write by hand); the one exception, a change whose
 * notification is still on its way from the source, clears at the next check.
 */
public final class ScheduledVerify implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ScheduledVerify.class);
  /** How often the schedule looks whether a check is due (more often for shorter intervals). */
  private static final Duration CHECK_EVERY = Duration.ofSeconds(1);

  /** What {@code /status} shows under {@code verify}. */
  public record Status(
      Optional<Duration> countsEvery,
      Optional<Duration> fullEvery,
      Optional<Instant> lastCountCheck,
      Optional<Instant> lastFullCheck,
      Optional<String> lastOutcome,
      int typesSettled,
      List<TypeStanding> differing,
      List<String> unsettled) {}

  private final Optional<Duration> countsEvery;
  private final Optional<Duration> fullEvery;
  private final List<String> namedTypes;
  private final Verifier verifier;
  private final Supplier<List<String>> relayedTypes;
  private final Supplier<Set<String>> pendingTypes;
  private final InstantSource clock;
  private final StandingDifferences standing;
  private final Ticker ticker;

  private volatile Instant lastCountCheck;
  private volatile Instant lastFullCheck;
  private volatile String lastOutcome;
  /** Whether the last run failed, so that a failing source or Pathling is logged once, not every run. */
  private boolean failing;

  /**
   * @param countsEvery how often to compare counts; empty for never
   * @param fullEvery how often to compare ids and versions; empty for never
   * @param namedTypes the types to check; empty for the ones the outbox holds ({@code relayedTypes})
   * @param pendingTypes the types with changes pending in the outbox
   * @param howToRepair the command that mends a difference, named in the log
   */
  public ScheduledVerify(
      Optional<Duration> countsEvery, Optional<Duration> fullEvery, List<String> namedTypes, Verifier verifier,
      Supplier<List<String>> relayedTypes, Supplier<Set<String>> pendingTypes, InstantSource clock,
      MeterRegistry meters, String howToRepair) {
    if (countsEvery.isEmpty() && fullEvery.isEmpty()) {
      throw new IllegalArgumentException("a scheduled verify needs an interval");
    }
    this.countsEvery = countsEvery;
    this.fullEvery = fullEvery;
    this.namedTypes = List.copyOf(namedTypes);
    this.verifier = verifier.withoutTypeLog();
    this.relayedTypes = relayedTypes;
    this.pendingTypes = pendingTypes;
    this.clock = clock;
    this.standing = new StandingDifferences(meters, howToRepair);
    Duration shortest = Stream.of(countsEvery, fullEvery).flatMap(Optional::stream).min(Duration::compareTo)
        .orElseThrow();
    this.ticker = new Ticker("verify", shortest.compareTo(CHECK_EVERY) < 0 ? shortest : CHECK_EVERY);
  }

  public void start() {
    ticker.start(this::check);
  }

  public Status status() {
    return new Status(countsEvery, fullEvery, Optional.ofNullable(lastCountCheck), Optional.ofNullable(lastFullCheck),
        Optional.ofNullable(lastOutcome), standing.settledTypes(), standing.differing(), standing.unsettled());
  }

  private void check() {
    Instant now = clock.instant();
    if (due(fullEvery, lastFullCheck, now)) {
      run(true);
      lastFullCheck = clock.instant();
      lastCountCheck = lastFullCheck;
    } else if (due(countsEvery, lastCountCheck, now)) {
      run(false);
      lastCountCheck = clock.instant();
    }
  }

  private static boolean due(Optional<Duration> every, Instant last, Instant now) {
    return every.isPresent() && (last == null || !now.isBefore(last.plus(every.get())));
  }

  private void run(boolean full) {
    String kind = full ? "full" : "counts";
    List<String> types = namedTypes.isEmpty() ? relayedTypes.get() : namedTypes;
    int skipped = 0;
    try {
      Set<String> pendingBefore = pendingTypes.get();
      for (String type : types) {
        Optional<Map<String, Long>> measured = Optional.empty();
        long sourceCount = 0;
        long pathlingCount = 0;
        if (full) {
          TypeComparison result = verifier.verify(List.of(type), Differences.NONE).get(0);
          if (result.pathlingServes()) {
            sourceCount = result.sourceCount();
            pathlingCount = result.pathlingCount();
            Map<String, Long> found = new HashMap<>();
            found.put(StandingDifferences.COUNT, Math.abs(sourceCount - pathlingCount));
            for (DifferenceKind difference : DifferenceKind.values()) {
              found.put(StandingDifferences.name(difference), result.count(difference));
            }
            measured = Optional.of(found);
          }
        } else {
          Optional<Verifier.Counts> counts = verifier.counts(type);
          if (counts.isPresent()) {
            sourceCount = counts.get().source();
            pathlingCount = counts.get().pathling();
            measured = Optional.of(Map.of(StandingDifferences.COUNT, counts.get().difference()));
          }
        }
        Set<String> pendingAfter = pendingTypes.get();
        if (measured.isEmpty()) {
          standing.notServed(type);
        } else if (pendingBefore.contains(type) || pendingAfter.contains(type)) {
          standing.unsettled(type);
          skipped++;
        } else {
          standing.settle(type, sourceCount, pathlingCount, measured.get(), clock.instant());
        }
        pendingBefore = pendingAfter;
      }
      lastOutcome = "ok: " + kind + " check of " + types.size() + " type(s), " + standing.differing().size()
          + " differ" + (skipped == 0 ? "" : ", " + skipped + " not judged (changes pending)");
      if (failing) {
        failing = false;
        log.info("Verify: checks work again ({})", lastOutcome);
      }
    } catch (Exception e) {
      lastOutcome = "failed: " + e.getMessage();
      if (!failing) {
        failing = true;
        log.warn("Verify: the {} check failed, and will be tried again at the next interval: {}", kind,
            e.getMessage());
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    ticker.close();
  }
}
