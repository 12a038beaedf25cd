package org.pathlingrelay.outbox;

import java.time.Duration;
import java.util.NavigableSet;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What a topic notification's event numbers mean for its subscription. The source numbers events in
 * order but need not deliver them in order: HAPI delivers on several threads and retries a failed
 * delivery for about a minute, so 2, 1, 3 is a normal run. Per subscription the outbox keeps the
 * highest number seen and the numbers still missing below it (holes). A number
 *
 * <ul>
 *   <li>beyond the highest opens a hole for each number it skips; a hole still open when the reorder
 *       window has passed counts as a gap then ({@link WriteSide#closeExpiredHoles}). More holes than
 *       {@link #MAX_HOLES} are not waited for: the jump counts as a gap at once;
 *   <li>that is an open hole fills it: nothing was lost;
 *   <li>seen before (or given up on) is a redelivery, no gap and no reset, if it lies at most {@link
 *       #RESET_DISTANCE} below the highest and the subscription was heard from within the window;
 *   <li>lower in any other way is a reset: the source started counting again (it restarted, or
 *       recreated the subscription) far below what we saw, or after a silence longer than its
 *       retries last, so no retry explains it. What happened around it may be lost: one gap, and the
 *       holes of the old count are forgotten (the catch-up that follows covers them).
 * </ul>
 *
 * A notification without event numbers (a heartbeat, a handshake) is judged by its {@code
 * events-since-subscription-start}: a count beyond the highest is a gap at once, as the source sends
 * heartbeats only after a quiet period, so events it counted should have arrived; holes already
 * open below the highest keep their own window. A lower count is a reset by the rule above.
 */
final class EventNumbering {

  /** Open holes kept per subscription; HAPI has a handful of deliveries in flight at a time. */
  static final int MAX_HOLES = 1_000;
  /** How far below the highest a number already seen may come back as a redelivery. */
  static final long RESET_DISTANCE = 100;

  /** What is known of a subscription; a null highest and lastSeenAt when nothing is. */
  record Known(Long highest, Set<Long> holes, Long lastSeenAtMillis) {
    static final Known NOTHING = new Known(null, Set.of(), null);

    Known {
      holes = Set.copyOf(holes);
    }
  }

  /**
   * What to remember and count: the new highest, holes opened and filled, whether every known hole
   * is to be forgotten first (a reset), and the gaps this notification shows at once.
   */
  record Verdict(Long highest, SortedSet<Long> opened, SortedSet<Long> filled, boolean reset, int gaps) {}

  private final long windowMillis;

  EventNumbering(Duration window) {
    this.windowMillis = window.toMillis();
  }

  Verdict judge(Known known, SubscriptionEvent event, long nowMillis) {
    Judgement judgement = new Judgement(known, nowMillis);
    if (!event.eventNumbers().isEmpty()) {
      new TreeSet<>(event.eventNumbers()).forEach(judgement::eventNumber);
    } else if (event.eventsSinceStart().isPresent()) {
      judgement.count(event.eventsSinceStart().getAsLong());
    }
    return judgement.verdict();
  }

  /** One notification's judgement, number by number in ascending order. */
  private final class Judgement {
    private final boolean quiet;
    private final NavigableSet<Long> holes;
    private final NavigableSet<Long> opened = new TreeSet<>();
    private final NavigableSet<Long> filled = new TreeSet<>();
    private Long highest;
    private boolean reset;
    private int gaps;

    Judgement(Known known, long nowMillis) {
      this.highest = known.highest();
      this.holes = new TreeSet<>(known.holes());
      this.quiet = known.lastSeenAtMillis() != null && nowMillis - known.lastSeenAtMillis() > windowMillis;
    }

    void eventNumber(long number) {
      if (highest == null) {
        highest = number;
      } else if (number > highest) {
        long skipped = number - highest - 1;
        if (holes.size() + skipped > MAX_HOLES) {
          gaps++;
        } else {
          for (long missing = highest + 1; missing < number; missing++) {
            holes.add(missing);
            opened.add(missing);
          }
        }
        highest = number;
      } else if (holes.remove(number)) {
        filled.add(number);
      } else if (isReset(number)) {
        reset(number);
      }
    }

    void count(long eventsSinceStart) {
      if (highest == null) {
        highest = eventsSinceStart;
      } else if (eventsSinceStart > highest) {
        gaps++;
        highest = eventsSinceStart;
      } else if (isReset(eventsSinceStart)) {
        reset(eventsSinceStart);
      }
    }

    private boolean isReset(long lower) {
      return lower < highest && (highest - lower > RESET_DISTANCE || quiet);
    }

    private void reset(long number) {
      gaps++;
      reset = true;
      holes.clear();
      opened.clear();
      filled.clear();
      highest = number;
    }

    Verdict verdict() {
      return new Verdict(highest, opened, filled, reset, gaps);
    }
  }
}
