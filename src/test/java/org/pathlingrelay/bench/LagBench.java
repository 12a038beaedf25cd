package org.pathlingrelay.bench;

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
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;

/**
 * Part 3: a steady stream at a fixed rate into the relay, forwarding to the modelled Pathling.
 * Lag is from the notification's acknowledgement to the model's answer for that resource; the
 * outbox depth is sampled throughout. The baseline is what the model allows a relay that always
 * has one request per type in flight.
 */
final class LagBench {

  private static final String PART = "lag";
  private static final long DEPTH_SAMPLE_MS = 25;

  private final BenchSettings.Lag settings;
  private final int rounds;
  private final int types;
  private final SyntheaCorpus corpus;
  private final BenchRelay relays;
  private final Workspace workspace;
  private final Consumer<String> progress;

  /** @param types how many resource types the stream spreads over (the corpus's largest) */
  LagBench(BenchSettings.Lag settings, int rounds, int types, SyntheaCorpus corpus, BenchRelay relays,
      Workspace workspace, Consumer<String> progress) {
    this.settings = settings;
    this.rounds = rounds;
    this.types = types;
    this.corpus = corpus;
    this.relays = relays;
    this.workspace = workspace;
    this.progress = progress;
  }

  private record Round(double p50Millis, double p99Millis, long maxDepth, int failed) {}

  PartResult run() throws Exception {
    List<String> streamTypes = corpus.largestTypes(types);
    List<Double> p50 = new ArrayList<>();
    List<Double> p99 = new ArrayList<>();
    List<Double> depth = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (int round = 1; round <= rounds; round++) {
      Round measured = round(round, streamTypes);
      p50.add(measured.p50Millis());
      p99.add(measured.p99Millis());
      depth.add((double) measured.maxDepth());
      if (measured.failed() > 0) {
        notes.add("lag round " + round + ": " + measured.failed() + " notification(s) refused");
      }
      progress.accept(String.format(Locale.ROOT, "lag round %d/%d: p50 %.0f ms, p99 %.0f ms, largest depth %d",
          round, rounds, measured.p50Millis(), measured.p99Millis(), measured.maxDepth()));
    }
    double requestSeconds = ModelIdeal.steadyRequestSeconds(settings.rate(), streamTypes.size(), settings.cost());
    String idealIs = String.format(Locale.ROOT, "model's steady state, T = %.0f ms", requestSeconds * 1000);
    List<Figure> figures = List.of(
        new Figure(PART, "lag p50, ms (ack to Pathling's answer)", Figure.Better.LOWER, p50,
            List.of(1.5 * requestSeconds * 1000), idealIs + ", 1.5 T", 0),
        new Figure(PART, "lag p99, ms", Figure.Better.LOWER, p99, List.of(1.99 * requestSeconds * 1000),
            idealIs + ", 1.99 T", 0),
        new Figure(PART, "largest outbox depth, changes", Figure.Better.LOWER, depth,
            List.of(2 * settings.rate() * requestSeconds), "2 x rate x T", 0));
    notes.add(0, String.format(Locale.ROOT,
        "lag: %d notifications/s for %d s (open loop, %d connections) of %s into the relay (batch mode), forwarding to the"
            + " modelled Pathling (%s); depth = the outbox's pending rows, sampled every %d ms",
        settings.rate(), settings.duration().toSeconds(), settings.concurrency(), String.join(", ", streamTypes),
        settings.cost().describe(), DEPTH_SAMPLE_MS));
    notes.add(1, "lag baseline: with one request per type always in flight, each request takes T = c / (1 - (rate/types) * r)"
        + " and carries what arrived during the last, so a change waits U(0, T) for the request in flight plus T for its own:"
        + " p50 = 1.5 T, p99 = 1.99 T; the outbox holds at most one batch in flight plus one arriving: 2 x rate x T");
    return new PartResult(figures, notes);
  }

  private Round round(int round, List<String> streamTypes) throws Exception {
    java.nio.file.Path dataDir = workspace.newDir(PART);
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "bench-depth-sampler");
      thread.setDaemon(true);
      return thread;
    });
    try (ModelledPathling model = ModelledPathling.start(settings.cost(), true);
        Relay relay = relays.start(dataDir, model.fhirBase(), ForwardMode.BATCH)) {
      AtomicLong maxDepth = new AtomicLong();
      sampler.scheduleAtFixedRate(
          () -> maxDepth.accumulateAndGet(relay.outbox().stats().pending(), Math::max),
          0, DEPTH_SAMPLE_MS, TimeUnit.MILLISECONDS);
      PacedNotifications stream = new PacedNotifications(new HapiNotifications(BenchRelay.SECRET), settings.concurrency());
      String prefix = "l" + round + "-";
      PacedNotifications.Result sent = stream.run(BenchRelay.fhirBase(relay), settings.rate(), settings.duration(),
          i -> notification(streamTypes, prefix, i));
      int acknowledged = 0;
      for (long at : sent.acknowledgedAt()) {
        if (at != 0) {
          acknowledged++;
        }
      }
      Duration timeout = Duration.ofSeconds(60).plusMillis((long) (20_000 * settings.cost().secondsFor(1)));
      if (!model.awaitWritten(acknowledged, timeout)) {
        throw new IllegalStateException("the model got only " + model.stats().entries() + " of " + acknowledged
            + " acknowledged changes within " + timeout.toSeconds() + " s after the stream ended");
      }
      sampler.shutdownNow();
      LatencyRecorder lags = new LatencyRecorder(sent.sent().length);
      for (int i = 0; i < sent.sent().length; i++) {
        long ack = sent.acknowledgedAt()[i];
        OptionalLong done = model.completedAt(sent.sent()[i].key());
        if (ack != 0 && done.isPresent()) {
          lags.record(done.getAsLong() - ack);
        }
      }
      return new Round(lags.percentileMillis(50), lags.percentileMillis(99), maxDepth.get(), sent.failed());
    } finally {
      sampler.shutdownNow();
      Workspace.delete(dataDir);
    }
  }

  private HapiNotifications.Notification notification(List<String> streamTypes, String prefix, int i) {
    String type = streamTypes.get(i % streamTypes.size());
    List<SyntheaCorpus.Template> templates = corpus.ofType(type);
    SyntheaCorpus.Template template = templates.get((i / streamTypes.size()) % templates.size());
    String id = prefix + i;
    return new HapiNotifications.Notification(type, id, template.body(id));
  }
}
