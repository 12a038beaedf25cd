package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;

/**
 * Part 3 against a real Pathling ({@code --pathling-url}): the same live stream as {@link
 * LagBench} into the relay, forwarding through the {@link RecordingProxy} to the user's Pathling.
 * The baseline is the stream's end state written by hand, in the same round: per type one batch of
 * the final versions and only the deletes Pathling needs (of resources it held before), types in
 * parallel. Every round replays the same stream with the same ids, after putting back the resources
 * it deletes, so what cleanup has to delete stays the few ids of one stream.
 */
final class RealLagBench {

  private static final String PART = "lag";
  private static final long DEPTH_SAMPLE_MS = 25;
  private static final long SEED = 18;
  private static final String VERSION_ONE = "\"versionId\":\"1\"";

  private final BenchSettings.Lag settings;
  private final BenchSettings.RelayUnderTest relaySettings;
  private final int rounds;
  private final SyntheaCorpus corpus;
  private final BenchRelay relays;
  private final Workspace workspace;
  private final RealPathling pathling;
  private final Consumer<String> progress;

  RealLagBench(BenchSettings.Lag settings, BenchSettings.RelayUnderTest relaySettings, int rounds, SyntheaCorpus corpus,
      BenchRelay relays, Workspace workspace, RealPathling pathling, Consumer<String> progress) {
    this.settings = settings;
    this.relaySettings = relaySettings;
    this.rounds = rounds;
    this.corpus = corpus;
    this.relays = relays;
    this.workspace = workspace;
    this.pathling = pathling;
    this.progress = progress;
  }

  /** The hand-written end state: Pathling's time, requests, deletes, wall time, one request's mean time. */
  private record EndState(RecordingProxy.Stats stats, double wallSeconds) {
    double requestSeconds() {
      return stats.pathlingSeconds() / Math.max(1, stats.writeRequests());
    }
  }

  /** One round of the relay: figures as {@link LagBench}'s, and the seconds from the last notification to the last answer. */
  private record Round(LagBench.Side relay, LagBench.Side endState, double relayTailSeconds, double endStateSeconds,
      int refused, long failedWrites) {}

  PartResult run() throws Exception {
    List<String> types = corpus.types(settings.types() + settings.quietTypes());
    List<String> busy = types.subList(0, settings.types());
    List<String> quiet = types.subList(settings.types(), types.size());
    int count = (int) Math.max(1, settings.rate() * settings.duration().toMillis() / 1000);
    LagStream stream = LagStream.generate(busy, quiet, settings.rate(), count, settings.rate() * settings.quietEverySeconds(),
        pathling.prefix() + "l-", SEED);
    double linger = relaySettings.linger().toNanos() / 1e9;
    List<Round> rounds = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    // A type's first write creates its table: not a cost of the end state's write, nor of the relay's.
    progress.accept("lag: warm-up, the end state written once (not measured)");
    putHeldBefore(stream);
    endState(stream);
    for (int round = 1; round <= this.rounds; round++) {
      putHeldBefore(stream);
      EndState endState = endState(stream);
      progress.accept(String.format(Locale.ROOT, "lag round %d/%d: end state by hand in %.1f s; now the stream, %d s",
          round, this.rounds, endState.wallSeconds(), settings.duration().toSeconds()));
      putHeldBefore(stream);
      Round measured = measure(stream, endState, linger);
      rounds.add(measured);
      if (measured.refused() > 0) {
        notes.add("lag round " + round + ": " + measured.refused() + " notification(s) refused");
      }
      if (measured.failedWrites() > 0) {
        notes.add("lag round " + round + ": Pathling refused " + measured.failedWrites() + " of the relay's writes (retried)");
      }
      progress.accept(String.format(Locale.ROOT,
          "lag round %d/%d: Pathling time %.0f s per 1,000 changes (end state by hand %.0f s), p99 wait %.1f s,"
              + " landed %.1f s after the last notification (end state by hand: %.1f s)", round, this.rounds,
          measured.relay().pathlingSecondsPerThousand(), measured.endState().pathlingSecondsPerThousand(),
          measured.relay().p99Seconds(), measured.relayTailSeconds(), measured.endStateSeconds()));
    }
    String byHand = "end state by hand, measured";
    String oneRequest = "linger + one hand-written request";
    List<Figure> figures = List.of(
        figure("Pathling time per 1,000 changes, s", rounds, r -> r.relay().pathlingSecondsPerThousand(),
            r -> r.endState().pathlingSecondsPerThousand(), byHand, 1),
        figure("requests per 1,000 changes", rounds, r -> r.relay().requestsPerThousand(),
            r -> r.endState().requestsPerThousand(), byHand, 0),
        figure("DELETE requests per 1,000 changes", rounds, r -> r.relay().deletesPerThousand(),
            r -> r.endState().deletesPerThousand(), byHand, 0),
        figure("time to land after the last notification, s", rounds, Round::relayTailSeconds, Round::endStateSeconds,
            "writing the end state by hand, measured", 1),
        figure("quiet types' p99 wait, request times", rounds, r -> r.relay().quietP99RequestTimes(),
            r -> r.endState().quietP99RequestTimes(), oneRequest, 1),
        figure("wait p50, s (arrival to Pathling's answer)", rounds, r -> r.relay().p50Seconds(),
            r -> r.endState().p50Seconds(), oneRequest, 1),
        figure("wait p99, s", rounds, r -> r.relay().p99Seconds(), r -> r.endState().p99Seconds(), oneRequest, 1));
    notes.add(0, String.format(Locale.ROOT,
        "lag (real Pathling %s): %d notifications/s for %d s (open loop, %d connections): %d busy types (%s; weight"
            + " 1/rank) and %d quiet types (%s, a create each every %d s, in turn), %d deletes of %d changes (%d of resources"
            + " created in the same minute, the rest of resources put into Pathling before each round), through a"
            + " recording proxy; the same stream (and ids) every round, after one unmeasured write of its end state", pathling.url(), settings.rate(),
        settings.duration().toSeconds(), settings.concurrency(), busy.size(), String.join(", ", busy), quiet.size(),
        String.join(", ", quiet), settings.quietEverySeconds(), stream.deletes(), stream.events().size(), stream.sameMinuteDeletes()));
    notes.add(1, "lag baseline: the stream's end state written by hand in the same round: per type one batch of the"
        + " final versions and the DELETEs of resources Pathling held, types in parallel on --parallel-types slots;"
        + " Pathling time = the sum of the writes' times (sent to answered); a request time = the hand-written"
        + " requests' mean; the wait baseline is linger + that request time");
    return new PartResult(figures, notes);
  }

  private static Figure figure(String name, List<Round> rounds, ToDoubleFunction<Round> relay,
      ToDoubleFunction<Round> baseline, String baselineIs, int decimals) {
    return new Figure(PART, name, Figure.Better.LOWER, rounds.stream().map(relay::applyAsDouble).toList(),
        rounds.stream().map(baseline::applyAsDouble).toList(), baselineIs, decimals);
  }

  /** Puts into Pathling what the stream deletes without creating it (as an earlier load would have left it). */
  private void putHeldBefore(LagStream stream) throws Exception {
    Map<String, List<PathlingDirect.Write>> byType = new LinkedHashMap<>();
    for (String key : stream.heldBefore()) {
      int slash = key.indexOf('/');
      String type = key.substring(0, slash);
      String id = key.substring(slash + 1);
      byType.computeIfAbsent(type, t -> new ArrayList<>()).add(PathlingDirect.Write.put(type, id, body(type, id, 1)));
    }
    pathling.record();
    writeByType(byType);
  }

  private EndState endState(LagStream stream) throws Exception {
    Map<String, LagStream.Event> last = new LinkedHashMap<>();
    for (LagStream.Event event : stream.events()) {
      last.put(event.key(), event);
    }
    Map<String, List<PathlingDirect.Write>> byType = new LinkedHashMap<>();
    for (LagStream.Event event : last.values()) {
      PathlingDirect.Write write;
      if (!event.delete()) {
        write = PathlingDirect.Write.put(event.type(), event.id(), body(event.type(), event.id(), event.version()));
      } else if (stream.heldBefore().contains(event.key())) {
        write = PathlingDirect.Write.delete(event.key());
      } else {
        continue; // created and deleted within the stream: Pathling needs nothing
      }
      byType.computeIfAbsent(event.type(), t -> new ArrayList<>()).add(write);
    }
    RecordingProxy.Recording recording = pathling.record();
    long started = System.nanoTime();
    writeByType(byType);
    return new EndState(recording.stats(), (System.nanoTime() - started) / 1e9);
  }

  /** One batch per type, types in parallel on the relay's number of slots. */
  private void writeByType(Map<String, List<PathlingDirect.Write>> byType) throws Exception {
    if (byType.isEmpty()) {
      return;
    }
    PathlingDirect direct = pathling.direct();
    ExecutorService slots = Executors.newFixedThreadPool(Math.min(relaySettings.parallelTypes(), byType.size()));
    try {
      List<Future<?>> done = new ArrayList<>();
      for (List<PathlingDirect.Write> writes : byType.values()) {
        done.add(slots.submit(() -> {
          direct.batch(writes);
          return null;
        }));
      }
      for (Future<?> future : done) {
        future.get();
      }
    } finally {
      slots.shutdownNow();
    }
  }

  private Round measure(LagStream stream, EndState endState, double linger) throws Exception {
    Path dataDir = workspace.newDir(PART);
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "bench-depth-sampler");
      thread.setDaemon(true);
      return thread;
    });
    RecordingProxy.Recording recording = pathling.record();
    try (Relay relay = relays.start(dataDir, pathling.fhirBase(), ForwardMode.BATCH)) {
      AtomicLong maxDepth = new AtomicLong();
      sampler.scheduleAtFixedRate(() -> maxDepth.accumulateAndGet(relay.outbox().stats().pending(), Math::max),
          0, DEPTH_SAMPLE_MS, TimeUnit.MILLISECONDS);
      List<LagStream.Event> events = stream.events();
      PacedNotifications paced = new PacedNotifications(new HapiNotifications(BenchRelay.SECRET), settings.concurrency());
      PacedNotifications.Result sent = paced.run(BenchRelay.fhirBase(relay), settings.rate(), settings.duration(),
          i -> notification(events.get(i)));
      LagBench.awaitDrained(relay, settings.duration().multipliedBy(4).plusSeconds(600));
      sampler.shutdownNow();
      double[] waits = new double[events.size()];
      boolean[] lastOfEach = stream.lastOfEachResource();
      long lastAnswer = 0;
      for (int i = 0; i < events.size(); i++) {
        // from when it was due: the stream is open loop, so that is when it arrived at the relay
        long due = sent.startedAt() + Math.round(events.get(i).atSeconds() * 1e9);
        OptionalLong done = recording.completedAt(events.get(i).key());
        boolean answered = sent.acknowledgedAt()[i] != 0 && done.isPresent() && done.getAsLong() >= due;
        waits[i] = answered ? (done.getAsLong() - due) / 1e9 : Double.NaN;
        if (answered && lastOfEach[i]) {
          lastAnswer = Math.max(lastAnswer, done.getAsLong());
        }
      }
      long lastDue = sent.startedAt() + Math.round(events.get(events.size() - 1).atSeconds() * 1e9);
      RecordingProxy.Stats stats = recording.stats();
      double requestTime = endState.requestSeconds();
      LagBench.Side side = LagBench.side(stream, waits, stats.pathlingSeconds(), stats.writeRequests(), stats.deletes(),
          maxDepth.get(), requestTime);
      double perThousand = 1000.0 / events.size();
      double ideal = linger + requestTime;
      LagBench.Side byHand = new LagBench.Side(endState.stats().pathlingSeconds() * perThousand,
          endState.stats().writeRequests() * perThousand, endState.stats().deletes() * perThousand, ideal, ideal,
          ideal / requestTime, 0);
      return new Round(side, byHand, Math.max(0, lastAnswer - lastDue) / 1e9, endState.wallSeconds(), sent.failed(),
          stats.failedWrites());
    } finally {
      sampler.shutdownNow();
      Workspace.delete(dataDir);
    }
  }



  private HapiNotifications.Notification notification(LagStream.Event event) {
    return event.delete() ? HapiNotifications.Notification.delete(event.type(), event.id())
        : new HapiNotifications.Notification(event.type(), event.id(), body(event.type(), event.id(), event.version()));
  }

  /** The resource as the source would send it, at {@code version} (the outbox drops what is not newer). */
  private String body(String type, String id, int version) {
    List<SyntheaCorpus.Template> templates = corpus.ofType(type);
    SyntheaCorpus.Template template = templates.get(Math.floorMod(id.hashCode(), templates.size()));
    return template.body(id).replace(VERSION_ONE, "\"versionId\":\"" + version + "\"");
  }
}
