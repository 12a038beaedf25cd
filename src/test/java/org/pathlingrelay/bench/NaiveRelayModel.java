package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pathlingrelay.testing.PathlingCost;
import org.pathlingrelay.testing.PathlingCpu;

/**
 * The baseline of the lag part: the relay as it was before it knew which deletes matter,
 * simulated on the same stream against the same modelled Pathling, in simulated time. Every
 * delete is its own request, to Pathling whether it holds the resource or not ({@code 404}); a
 * type's turn takes its changes oldest first, at most {@value #REQUESTS} requests (a delete each,
 * the upserts as one batch that later upserts join), and stops at the first change past the budget
 * when no batch is going; its deletes go first, then the batch. Types get the slots as the relay's
 * scheduler gives them: due after the linger (or a full batch), the longest waiting first, on
 * {@code parallelTypes} slots; the requests in progress share Pathling's cores, as {@link
 * PathlingCpu} shares them.
 */
final class NaiveRelayModel {

  static final int REQUESTS = 2;

  /**
   * What the simulation measured.
   *
   * @param waitSeconds per event, from its arrival to the answer that delivered it (NaN when it
   *     was replaced before it went out)
   * @param modelledSeconds Pathling's time: the sum of the requests' own costs
   */
  record Result(double[] waitSeconds, double modelledSeconds, long requests, long deleteRequests, long absentDeletes,
      long maxDepth) {}

  private record Pending(int event, boolean delete, double receivedAt) {}

  /** One request in progress: its remaining work (seconds alone) and what it delivers. */
  private static final class Request {
    final String type;
    final List<Pending> carries;
    double left;

    Request(String type, List<Pending> carries, double seconds) {
      this.type = type;
      this.carries = carries;
      this.left = seconds;
    }
  }

  private final PathlingCost cost;
  private final int parallelTypes;
  private final int batchMax;
  private final double lingerSeconds;

  NaiveRelayModel(PathlingCost cost, int parallelTypes, int batchMax, double lingerSeconds) {
    this.cost = cost;
    this.parallelTypes = parallelTypes;
    this.batchMax = batchMax;
    this.lingerSeconds = lingerSeconds;
  }

  Result run(LagStream stream) {
    return new Run(stream).toTheEnd();
  }

  /** One simulation, in simulated seconds from the stream's start. */
  private final class Run {
    final List<LagStream.Event> events;
    final Set<String> held;
    final Map<String, LinkedHashMap<String, Pending>> queued = new HashMap<>(); // per type, oldest first
    final Map<String, List<List<Pending>>> turns = new HashMap<>(); // per type in flight: requests still to send
    final Map<String, Double> turnEndedAt = new HashMap<>();
    final List<Request> running = new ArrayList<>();
    final double[] wait;
    double now;
    double modelled;
    double wake;
    long requests;
    long deleteRequests;
    long absentDeletes;
    long depth;
    long maxDepth;
    int next;

    Run(LagStream stream) {
      events = stream.events();
      held = new HashSet<>(stream.heldBefore());
      wait = new double[events.size()];
      Arrays.fill(wait, Double.NaN);
    }

    Result toTheEnd() {
      while (true) {
        while (dispatch() | send()) {
          // until nothing more can start or end at this instant
        }
        if (next == events.size() && running.isEmpty() && turns.isEmpty()
            && queued.values().stream().allMatch(LinkedHashMap::isEmpty)) {
          break;
        }
        double speed = running.isEmpty() || cost.cores() == 0 ? 1 : Math.min(1.0, (double) cost.cores() / running.size());
        double until = wake;
        for (Request request : running) {
          until = Math.min(until, now + request.left / speed);
        }
        if (next < events.size()) {
          until = Math.min(until, events.get(next).atSeconds());
        }
        if (until == Double.POSITIVE_INFINITY) {
          throw new IllegalStateException("the naive model is stuck at " + now + " s");
        }
        for (Request request : running) {
          request.left -= (until - now) * speed;
        }
        now = until;
        finishRequests();
        arrive();
      }
      return new Result(wait, modelled, requests, deleteRequests, absentDeletes, maxDepth);
    }

    /** Gives free slots to due types, longest waiting first; notes when the next linger ends. */
    boolean dispatch() {
      wake = Double.POSITIVE_INFINITY;
      List<String> due = new ArrayList<>();
      for (Map.Entry<String, LinkedHashMap<String, Pending>> entry : queued.entrySet()) {
        if (entry.getValue().isEmpty() || turns.containsKey(entry.getKey())) {
          continue;
        }
        double oldest = oldest(entry.getKey());
        if (now - oldest >= lingerSeconds - 1e-9 || entry.getValue().size() >= batchMax) {
          due.add(entry.getKey());
        } else {
          wake = Math.min(wake, oldest + lingerSeconds);
        }
      }
      due.sort(Comparator.comparingDouble((String type) -> Math.max(oldest(type), turnEndedAt.getOrDefault(type, 0.0)))
          .thenComparing(type -> type));
      boolean started = false;
      for (String type : due) {
        if (turns.size() >= parallelTypes) {
          break;
        }
        turns.put(type, take(queued.get(type)));
        started = true;
      }
      return started;
    }

    double oldest(String type) {
      return queued.get(type).values().iterator().next().receivedAt();
    }

    /** Each type in flight with no request running sends its next one, or ends its turn. */
    boolean send() {
      Set<String> sending = new HashSet<>();
      running.forEach(request -> sending.add(request.type));
      boolean changed = false;
      for (Iterator<Map.Entry<String, List<List<Pending>>>> it = turns.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<String, List<List<Pending>>> turn = it.next();
        if (sending.contains(turn.getKey())) {
          continue;
        }
        changed = true;
        if (turn.getValue().isEmpty()) {
          turnEndedAt.put(turn.getKey(), now);
          it.remove();
          continue;
        }
        List<Pending> carries = turn.getValue().remove(0);
        double millis;
        if (carries.get(0).delete()) {
          boolean holds = held.contains(events.get(carries.get(0).event()).key());
          millis = holds ? cost.writeMillis(0, 1, 0) : cost.writeMillis(0, 0, 1);
          deleteRequests++;
          absentDeletes += holds ? 0 : 1;
        } else {
          millis = cost.writeMillis(carries.size(), 0, 0);
        }
        modelled += millis / 1000;
        requests++;
        running.add(new Request(turn.getKey(), carries, millis / 1000));
      }
      return changed;
    }

    void finishRequests() {
      for (Iterator<Request> it = running.iterator(); it.hasNext(); ) {
        Request request = it.next();
        if (request.left > 1e-9) {
          continue;
        }
        it.remove();
        for (Pending change : request.carries) {
          String key = events.get(change.event()).key();
          if (change.delete()) {
            held.remove(key);
          } else {
            held.add(key);
          }
          wait[change.event()] = now - events.get(change.event()).atSeconds();
          depth--;
        }
      }
    }

    void arrive() {
      while (next < events.size() && events.get(next).atSeconds() <= now + 1e-12) {
        LagStream.Event event = events.get(next);
        LinkedHashMap<String, Pending> ofType = queued.computeIfAbsent(event.type(), t -> new LinkedHashMap<>());
        Pending replaced = ofType.get(event.id());
        if (replaced != null) {
          // the outbox keeps one pending change per resource, in the place of the first
          ofType.put(event.id(), new Pending(next, event.delete(), replaced.receivedAt()));
        } else {
          ofType.put(event.id(), new Pending(next, event.delete(), now));
          depth++;
        }
        maxDepth = Math.max(maxDepth, depth);
        next++;
      }
    }
  }

  /** The old turn: oldest first, a request per delete, one batch for the upserts, at most two requests. */
  private List<List<Pending>> take(LinkedHashMap<String, Pending> queue) {
    List<List<Pending>> deletes = new ArrayList<>();
    List<Pending> batch = new ArrayList<>();
    int requests = 0;
    int read = 0;
    for (Iterator<Pending> it = queue.values().iterator(); it.hasNext() && read < batchMax; read++) {
      Pending change = it.next();
      if (!change.delete() && !batch.isEmpty()) {
        batch.add(change);
      } else if (requests < REQUESTS) {
        if (change.delete()) {
          deletes.add(List.of(change));
        } else {
          batch.add(change);
        }
        requests++;
      } else if (batch.isEmpty()) {
        break; // the budget is spent and no batch is going that later upserts could join
      } else {
        continue;
      }
      it.remove();
    }
    List<List<Pending>> turn = new ArrayList<>(deletes);
    if (!batch.isEmpty()) {
      turn.add(batch);
    }
    return turn;
  }
}
