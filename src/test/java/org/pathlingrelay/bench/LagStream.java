package org.pathlingrelay.bench;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.pathlingrelay.testing.PathlingCost;

/**
 * A realistic live stream, fixed in advance so that the relay and the naive model see the same
 * one: busy types weighted as real sources are (a few types write most: weight {@code 1/rank}),
 * one quiet type with a create every so often, and among the busy changes 10% deletes, a third of
 * them of resources created in the same minute (which Pathling may never have been sent) and the
 * rest of resources Pathling already holds (an earlier load's). Of the upserts, 70% create a new
 * resource and 30% update one created earlier in the stream. Quiet types get a create each now and
 * then, in turn, evenly spaced.
 */
final class LagStream {

  static final double DELETE_SHARE = 0.10;
  static final double SAME_MINUTE_SHARE = 1.0 / 3;
  static final double UPDATE_SHARE = 0.30;
  private static final double MINUTE = 60;

  /** One change, due {@code atSeconds} into the stream; an upsert carries its resource's {@code version}. */
  record Event(double atSeconds, String type, String id, int version, boolean delete, boolean quiet) {
    String key() {
      return type + "/" + id;
    }
  }

  private final List<Event> events;
  private final Set<String> heldBefore;

  private LagStream(List<Event> events, Set<String> heldBefore) {
    this.events = List.copyOf(events);
    this.heldBefore = Set.copyOf(heldBefore);
  }

  /**
   * @param busyTypes the types of the busy stream, most written first
   * @param quietTypes types with one create each every {@code quietEvery} notifications
   * @param prefix makes the ids of one round its own
   */
  static LagStream generate(List<String> busyTypes, List<String> quietTypes, int rate, int count, int quietEvery,
      String prefix, long seed) {
    int quietGap = quietTypes.isEmpty() ? 0 : Math.max(1, quietEvery / quietTypes.size());
    int quietSeen = 0;
    Random random = new Random(seed);
    double[] cumulative = new double[busyTypes.size()];
    double total = 0;
    for (int t = 0; t < busyTypes.size(); t++) {
      total += 1.0 / (t + 1);
      cumulative[t] = total;
    }
    List<Event> events = new ArrayList<>();
    Set<String> heldBefore = new LinkedHashSet<>();
    Map<String, List<String>> createdByType = new HashMap<>();
    Set<String> deleted = new HashSet<>();
    Map<String, Integer> versions = new HashMap<>();
    Deque<Event> lastMinute = new ArrayDeque<>(); // creates of the busy types, oldest first
    int ids = 0;
    for (int i = 0; i < count; i++) {
      double at = (double) i / rate;
      while (!lastMinute.isEmpty() && lastMinute.peekFirst().atSeconds() < at - MINUTE) {
        lastMinute.pollFirst();
      }
      String id = prefix + ids++;
      if (quietEvery > 0 && quietGap > 0 && i % quietGap == quietGap / 2) {
        events.add(new Event(at, quietTypes.get(quietSeen++ % quietTypes.size()), id, 1, false, true));
        continue;
      }
      double pick = random.nextDouble() * total;
      int t = 0;
      while (cumulative[t] < pick) {
        t++;
      }
      String type = busyTypes.get(t);
      double kind = random.nextDouble();
      if (kind < DELETE_SHARE * SAME_MINUTE_SHARE) {
        Event created = randomLive(lastMinute, deleted, random);
        if (created != null) {
          deleted.add(created.key());
          events.add(new Event(at, created.type(), created.id(), 0, true, false));
          continue;
        }
      }
      if (kind < DELETE_SHARE) {
        Event delete = new Event(at, type, prefix + "held-" + (ids - 1), 0, true, false);
        heldBefore.add(delete.key());
        events.add(delete);
        continue;
      }
      List<String> created = createdByType.computeIfAbsent(type, k -> new ArrayList<>());
      if (kind < DELETE_SHARE + (1 - DELETE_SHARE) * UPDATE_SHARE && !created.isEmpty()) {
        String earlier = created.get(random.nextInt(created.size()));
        if (!deleted.contains(type + "/" + earlier)) {
          events.add(new Event(at, type, earlier, versions.merge(type + "/" + earlier, 1, Integer::sum), false, false));
          continue;
        }
      }
      Event create = new Event(at, type, id, 1, false, false);
      versions.put(create.key(), 1);
      created.add(id);
      lastMinute.addLast(create);
      events.add(create);
    }
    return new LagStream(events, heldBefore);
  }

  /** A stream of these events (in time order), Pathling holding {@code heldBefore} at its start. */
  static LagStream of(List<Event> events, Set<String> heldBefore) {
    return new LagStream(events, heldBefore);
  }

  private static Event randomLive(Deque<Event> lastMinute, Set<String> deleted, Random random) {
    List<Event> live = lastMinute.stream().filter(event -> !deleted.contains(event.key())).toList();
    return live.isEmpty() ? null : live.get(random.nextInt(live.size()));
  }

  List<Event> events() {
    return events;
  }

  /** The resources Pathling holds before the stream starts: the ones the stream deletes that it did not create. */
  Set<String> heldBefore() {
    return heldBefore;
  }

  /** Whether event {@code i} is the last of its resource: the one whose delivery ends its wait. */
  boolean[] lastOfEachResource() {
    boolean[] last = new boolean[events.size()];
    Set<String> seen = new HashSet<>();
    for (int i = events.size() - 1; i >= 0; i--) {
      last[i] = seen.add(events.get(i).key());
    }
    return last;
  }

  /**
   * What the stream's end state costs Pathling when written once, by hand, after the stream: one
   * batch per type of the resources it leaves (their last versions), and a delete of each resource
   * Pathling held before that the stream deletes; resources created and deleted within the stream
   * cost nothing. No relay can spend less on this stream, however long it lets changes wait.
   */
  double endStateMillis(PathlingCost cost) {
    Map<String, Event> last = new HashMap<>();
    for (Event event : events) {
      last.put(event.key(), event);
    }
    Map<String, Long> upsertsByType = new HashMap<>();
    long heldDeletes = 0;
    for (Event event : last.values()) {
      if (!event.delete()) {
        upsertsByType.merge(event.type(), 1L, Long::sum);
      } else if (heldBefore.contains(event.key())) {
        heldDeletes++;
      }
    }
    double millis = cost.writeMillis(0, heldDeletes, 0);
    for (long upserts : upsertsByType.values()) {
      millis += cost.writeMillis(upserts, 0, 0);
    }
    return millis;
  }

  long deletes() {
    return events.stream().filter(Event::delete).count();
  }

  long sameMinuteDeletes() {
    return events.stream().filter(event -> event.delete() && !heldBefore.contains(event.key())).count();
  }
}
