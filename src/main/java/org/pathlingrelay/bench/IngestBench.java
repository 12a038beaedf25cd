package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;

/**
 * Part 1: concurrent HAPI-shaped {@code PUT}s into the relay (each acknowledged only once it is
 * durable in the outbox) against the same load on a bare HAPI server that parses and drops them.
 * Rounds alternate which goes first, so a drift of the machine hurts both alike.
 */
final class IngestBench {

  private static final String PART = "ingest";

  private final BenchSettings.Ingest settings;
  private final int rounds;
  private final SyntheaCorpus corpus;
  private final BenchRelay relays;
  private final PathlingCost modelCost;
  private final Workspace workspace;
  private final Consumer<String> progress;

  IngestBench(BenchSettings.Ingest settings, int rounds, SyntheaCorpus corpus, BenchRelay relays,
      PathlingCost modelCost, Workspace workspace, Consumer<String> progress) {
    this.settings = settings;
    this.rounds = rounds;
    this.corpus = corpus;
    this.relays = relays;
    this.modelCost = modelCost;
    this.workspace = workspace;
    this.progress = progress;
  }

  PartResult run() throws Exception {
    List<Double> relayRate = new ArrayList<>();
    List<Double> ceilingRate = new ArrayList<>();
    List<Double> relayP50 = new ArrayList<>();
    List<Double> ceilingP50 = new ArrayList<>();
    List<Double> relayP99 = new ArrayList<>();
    List<Double> ceilingP99 = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    int failures = 0;
    String pathlingNote;
    try (CeilingServer ceiling = CeilingServer.start();
        ModelledPathling model = settings.forwardToModel() ? ModelledPathling.start(modelCost, false) : null;
        Relay relay = relays.start(workspace.newDir(PART),
            model != null ? model.fhirBase() : BenchRelay.unreachablePathling(), ForwardMode.BATCH)) {
      pathlingNote = model != null
          ? "the relay forwarded to the modelled Pathling (" + modelCost.describe() + ") while it took the load"
          : "the relay's Pathling URL was an unreachable port, so forwarding (failing fast, backing off) did not compete for the CPU";
      String relayBase = BenchRelay.fhirBase(relay);
      NotificationLoad load = new NotificationLoad(new HapiNotifications(BenchRelay.SECRET), settings.concurrency());
      progress.accept(String.format(Locale.ROOT, "ingest: warm-up, %,d notifications to each", settings.warmUp()));
      load.run(relayBase, settings.warmUp(), i -> notification("w", i));
      load.run(ceiling.fhirBase(), settings.warmUp(), i -> notification("w", i));
      for (int round = 1; round <= rounds; round++) {
        String prefix = "r" + round + "-";
        NotificationLoad.Result relayResult;
        NotificationLoad.Result ceilingResult;
        if (round % 2 == 1) {
          relayResult = load.run(relayBase, settings.requests(), i -> notification(prefix, i));
          ceilingResult = load.run(ceiling.fhirBase(), settings.requests(), i -> notification(prefix, i));
        } else {
          ceilingResult = load.run(ceiling.fhirBase(), settings.requests(), i -> notification(prefix, i));
          relayResult = load.run(relayBase, settings.requests(), i -> notification(prefix, i));
        }
        failures += relayResult.failed() + ceilingResult.failed();
        if (relayResult.failed() > 0) {
          notes.add("ingest round " + round + ": the relay refused " + relayResult.failed() + " notification(s), first with status "
              + relayResult.firstFailureStatus());
        }
        if (ceilingResult.failed() > 0) {
          notes.add("ingest round " + round + ": the ceiling server refused " + ceilingResult.failed()
              + " notification(s), first with status " + ceilingResult.firstFailureStatus());
        }
        relayRate.add(relayResult.perSecond());
        ceilingRate.add(ceilingResult.perSecond());
        relayP50.add(relayResult.p50Millis());
        ceilingP50.add(ceilingResult.p50Millis());
        relayP99.add(relayResult.p99Millis());
        ceilingP99.add(ceilingResult.p99Millis());
        progress.accept(String.format(Locale.ROOT, "ingest round %d/%d: relay %,.0f/s, ceiling %,.0f/s",
            round, rounds, relayResult.perSecond(), ceilingResult.perSecond()));
      }
    }
    String ceilingIs = "bare HAPI RestfulServer on Jetty, no-op @Update";
    List<Figure> figures = List.of(
        new Figure(PART, "acknowledged notifications/s", Figure.Better.HIGHER, relayRate, ceilingRate, ceilingIs, 0),
        new Figure(PART, "latency p50, ms", Figure.Better.LOWER, relayP50, ceilingP50, ceilingIs, 1),
        new Figure(PART, "latency p99, ms", Figure.Better.LOWER, relayP99, ceilingP99, ceilingIs, 1));
    notes.add(0, String.format(Locale.ROOT,
        "ingest: %,d HAPI-shaped PUT [base]/Type/id per round (If-Match, application/fhir+json, Bearer; %s with fresh ids)"
            + " over %d connections (java.net.http, HTTP/1.1), after a warm-up of %,d; same client and Jetty %s for both;"
            + " %s; acknowledged = 200 after the outbox commit was fsynced%s",
        settings.requests(), corpus.source(), settings.concurrency(), settings.warmUp(),
        org.eclipse.jetty.util.Jetty.VERSION, pathlingNote, failures > 0 ? "; refusals are not counted as acknowledged" : ""));
    return new PartResult(figures, notes);
  }

  private HapiNotifications.Notification notification(String prefix, int i) {
    SyntheaCorpus.Template template = corpus.templates().get(i % corpus.size());
    String id = prefix + i;
    return new HapiNotifications.Notification(template.type(), id, template.body(id));
  }
}
