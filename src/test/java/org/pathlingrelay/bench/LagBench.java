package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;

/**
 * Part 3: a realistic live stream ({@link LagStream}: 20 and more types, more than the relay's
 * slots, 10% deletes, a third of them of resources created in the same minute, a few quiet types) at
 * a fixed rate into the relay, forwarding to the modelled Pathling. The baseline is the relay as
 * it was before it knew which deletes matter ({@link NaiveRelayModel}), simulated on the same
 * stream against the same costs. Wait is from a change's arrival to Pathling's answer for it,
 * counted for the last change of each resource (an earlier one may never go out on its own);
 * deletes that needed no request have no answer and are left out.
 */
final class LagBench {

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
  private final Consumer<String> progress;

  LagBench(BenchSettings.Lag settings, BenchSettings.RelayUnderTest relaySettings, int rounds, SyntheaCorpus corpus,
      BenchRelay relays, Workspace workspace, Consumer<String> progress) {
    this.settings = settings;
    this.relaySettings = relaySettings;
    this.rounds = rounds;
    this.corpus = corpus;
    this.relays = relays;
    this.workspace = workspace;
    this.progress = progress;
  }

  /** One side's figures for one round. */
  record Side(double pathlingSecondsPerThousand, double requestsPerThousand, double deletesPerThousand,
      double p50Seconds, double p99Seconds, double quietP99RequestTimes, double maxDepth) {}

  PartResult run() throws Exception {
    List<String> types = corpus.types(settings.types() + settings.quietTypes());
    List<String> busy = types.subList(0, settings.types());
    List<String> quiet = types.subList(settings.types(), types.size());
    double requestTime = settings.cost().writeMillis(1, 0, 0) / 1000;
    List<Side> relay = new ArrayList<>();
    List<Side> naive = new ArrayList<>();
    List<Side> endState = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    LagStream first = null;
    for (int round = 1; round <= rounds; round++) {
      LagStream stream = LagStream.generate(busy, quiet, settings.rate(), count(), quietEvery(), "l" + round + "-",
          SEED + round);
      first = first == null ? stream : first;
      NaiveRelayModel.Result simulated = new NaiveRelayModel(settings.cost(), relaySettings.parallelTypes(),
          relaySettings.batchMax(), relaySettings.linger().toNanos() / 1e9).run(stream);
      Side baseline = side(stream, simulated.waitSeconds(), simulated.modelledSeconds(), simulated.requests(),
          simulated.deleteRequests(), simulated.maxDepth(), requestTime);
      naive.add(baseline);
      endState.add(new Side(stream.endStateMillis(settings.cost()) / stream.events().size(), 0, 0, 0, 0, 0, 0));
      Measured measured = measure(round, stream);
      if (measured.failed() > 0) {
        notes.add("lag round " + round + ": " + measured.failed() + " notification(s) refused");
      }
      Side side = side(stream, measured.waitSeconds(), measured.stats().modelledSeconds(),
          measured.stats().writeRequests(), measured.stats().deleteRequests(), measured.maxDepth(), requestTime);
      relay.add(side);
      progress.accept(String.format(Locale.ROOT,
          "lag round %d/%d: Pathling time %.0f s per 1,000 changes (naive %.0f s), quiet types' p99 %.1f request times"
              + " (naive %.1f), p99 %.0f s (naive %.0f s), %d DELETE requests (naive %d, %d of them 404)",
          round, rounds, side.pathlingSecondsPerThousand(), baseline.pathlingSecondsPerThousand(),
          side.quietP99RequestTimes(), baseline.quietP99RequestTimes(), side.p99Seconds(), baseline.p99Seconds(),
          measured.stats().deleteRequests(), simulated.deleteRequests(), simulated.absentDeletes()));
    }
    String naiveIs = "naive relay (every delete sent, oldest first), modelled";
    List<Figure> figures = List.of(
        figure("Pathling time per 1,000 changes, s", relay, naive, Side::pathlingSecondsPerThousand, naiveIs, 1),
        figure("Pathling time per 1,000 changes, s", relay, endState, Side::pathlingSecondsPerThousand,
            "the end state written once by hand (the floor)", 1),
        figure("requests per 1,000 changes", relay, naive, Side::requestsPerThousand, naiveIs, 0),
        figure("DELETE requests per 1,000 changes", relay, naive, Side::deletesPerThousand, naiveIs, 0),
        figure("quiet types' p99 wait, request times", relay, naive, Side::quietP99RequestTimes, naiveIs, 1),
        figure("wait p50, s (arrival to Pathling's answer)", relay, naive, Side::p50Seconds, naiveIs, 1),
        figure("wait p99, s", relay, naive, Side::p99Seconds, naiveIs, 1),
        figure("largest outbox depth, changes", relay, naive, Side::maxDepth, naiveIs, 0));
    notes.add(0, String.format(Locale.ROOT,
        "lag: %d notifications/s for %d s (open loop, %d connections): %d busy types (%s; weight 1/rank) and %d quiet"
            + " types (%s, a create each every %d s, in turn), %.0f%% deletes (%d of %d in round 1 of resources created in the same"
            + " minute, the rest of resources Pathling held before), 30%% of upserts updates; into the relay (batch"
            + " mode) forwarding to the modelled Pathling (%s); depth = the outbox's pending rows, sampled every %d ms",
        settings.rate(), settings.duration().toSeconds(), settings.concurrency(), busy.size(), String.join(", ", busy),
        quiet.size(), String.join(", ", quiet), settings.quietEverySeconds(), LagStream.DELETE_SHARE * 100, first.sameMinuteDeletes(), first.deletes(),
        settings.cost().describe(), DEPTH_SAMPLE_MS));
    notes.add(1, String.format(Locale.ROOT,
        "lag baseline: the relay before it skipped deletes Pathling cannot hold, simulated on the same stream and costs"
            + " (NaiveRelayModel): each delete its own request (a 404 for a resource Pathling never got), a turn of at"
            + " most 2 requests oldest first, the same scheduler; Pathling time = the sum of the requests' own costs;"
            + " a request time = one PUT alone, %.2f s; targets (issue 18): Pathling time at most 1/3 of the baseline's,"
            + " the quiet types' p99 at most 3 request times", requestTime));
    notes.add(2, "lag floor: the stream's end state written once after it (one batch per type of the resources it"
        + " leaves, a DELETE per resource Pathling held before; created-and-deleted ones cost nothing): no relay spends"
        + " less Pathling time on the stream, however long it lets changes wait; where the floor is above 1/3 of the"
        + " baseline, the issue's first target cannot be met on this stream");
    return new PartResult(figures, notes);
  }

  private static Figure figure(String name, List<Side> relay, List<Side> naive,
      ToDoubleFunction<Side> value, String baselineIs, int decimals) {
    return new Figure(PART, name, Figure.Better.LOWER, relay.stream().map(value::applyAsDouble).toList(),
        naive.stream().map(value::applyAsDouble).toList(), baselineIs, decimals);
  }

  private int count() {
    return (int) Math.max(1, settings.rate() * settings.duration().toMillis() / 1000);
  }

  private int quietEvery() {
    return settings.rate() * settings.quietEverySeconds();
  }

  static Side side(LagStream stream, double[] waitSeconds, double modelledSeconds, long requests,
      long deleteRequests, long maxDepth, double requestTime) {
    boolean[] last = stream.lastOfEachResource();
    List<LagStream.Event> events = stream.events();
    LatencyRecorder all = new LatencyRecorder(events.size());
    LatencyRecorder quiet = new LatencyRecorder(events.size());
    for (int i = 0; i < events.size(); i++) {
      if (!last[i] || Double.isNaN(waitSeconds[i])) {
        continue;
      }
      long nanos = Math.round(waitSeconds[i] * 1e9);
      all.record(nanos);
      if (events.get(i).quiet()) {
        quiet.record(nanos);
      }
    }
    double perThousand = 1000.0 / events.size();
    return new Side(modelledSeconds * perThousand, requests * perThousand, deleteRequests * perThousand,
        all.percentileMillis(50) / 1000, all.percentileMillis(99) / 1000,
        quiet.percentileMillis(99) / 1000 / requestTime, maxDepth);
  }

  private record Measured(double[] waitSeconds, WriteModel.Stats stats, long maxDepth, int failed) {}

  private Measured measure(int round, LagStream stream) throws Exception {
    Path dataDir = workspace.newDir(PART);
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "bench-depth-sampler");
      thread.setDaemon(true);
      return thread;
    });
    try (ModelledPathling model = ModelledPathling.start(settings.cost(), true);
        Relay relay = relays.start(dataDir, model.fhirBase(), ForwardMode.BATCH)) {
      model.hold(stream.heldBefore());
      AtomicLong maxDepth = new AtomicLong();
      sampler.scheduleAtFixedRate(
          () -> maxDepth.accumulateAndGet(relay.outbox().stats().pending(), Math::max),
          0, DEPTH_SAMPLE_MS, TimeUnit.MILLISECONDS);
      List<LagStream.Event> events = stream.events();
      PacedNotifications paced = new PacedNotifications(new HapiNotifications(BenchRelay.SECRET), settings.concurrency());
      PacedNotifications.Result sent = paced.run(BenchRelay.fhirBase(relay), settings.rate(), settings.duration(),
          i -> notification(events.get(i)));
      awaitDrained(relay, settings.duration().multipliedBy(4).plusSeconds(120));
      sampler.shutdownNow();
      double[] waits = new double[events.size()];
      for (int i = 0; i < events.size(); i++) {
        // from when it was due: the stream is open loop, so that is when it arrived at the relay
        long due = sent.startedAt() + Math.round(events.get(i).atSeconds() * 1e9);
        OptionalLong done = model.completedAt(events.get(i).key());
        waits[i] = sent.acknowledgedAt()[i] != 0 && done.isPresent() && done.getAsLong() >= due
            ? (done.getAsLong() - due) / 1e9 : Double.NaN;
      }
      return new Measured(waits, model.stats(), maxDepth.get(), sent.failed());
    } finally {
      sampler.shutdownNow();
      Workspace.delete(dataDir);
    }
  }

  /** Waits until the relay has nothing left to forward, at most {@code timeout}. */
  static void awaitDrained(Relay relay, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (relay.outbox().stats().pending() > 0) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException(relay.outbox().stats().pending() + " change(s) still pending "
            + timeout.toSeconds() + " s after the stream started");
      }
      TimeUnit.MILLISECONDS.sleep(50);
    }
  }


  private HapiNotifications.Notification notification(LagStream.Event event) {
    if (event.delete()) {
      return HapiNotifications.Notification.delete(event.type(), event.id());
    }
    List<SyntheaCorpus.Template> templates = corpus.ofType(event.type());
    SyntheaCorpus.Template template = templates.get(Math.floorMod(event.id().hashCode(), templates.size()));
    // an update carries its new version, as HAPI sends it; the outbox drops what is not newer
    String body = template.body(event.id()).replace(VERSION_ONE, "\"versionId\":\"" + event.version() + "\"");
    return new HapiNotifications.Notification(event.type(), event.id(), body);
  }
}
