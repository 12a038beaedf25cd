package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.PathlingCost;

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
    List<Double> relayCpu = new ArrayList<>();
    List<Double> ceilingCpu = new ArrayList<>();
    List<Double> writerCpu = new ArrayList<>();
    List<Double> forwarderCpu = new ArrayList<>();
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
        ThreadCpu start = ThreadCpu.snapshot();
        ThreadCpu between;
        if (round % 2 == 1) {
          relayResult = load.run(relayBase, settings.requests(), i -> notification(prefix, i));
          between = ThreadCpu.snapshot();
          ceilingResult = load.run(ceiling.fhirBase(), settings.requests(), i -> notification(prefix, i));
          relayCpu.add(micros(between.nanosSince(start, IngestBench::relayThread), settings.requests()));
          writerCpu.add(micros(between.nanosSince(start, name -> name.startsWith("outbox-")), settings.requests()));
          forwarderCpu.add(micros(between.nanosSince(start, name -> name.startsWith("forward-")), settings.requests()));
          ceilingCpu.add(micros(ThreadCpu.snapshot().nanosSince(between, IngestBench::ceilingThread), settings.requests()));
        } else {
          ceilingResult = load.run(ceiling.fhirBase(), settings.requests(), i -> notification(prefix, i));
          between = ThreadCpu.snapshot();
          relayResult = load.run(relayBase, settings.requests(), i -> notification(prefix, i));
          ceilingCpu.add(micros(between.nanosSince(start, IngestBench::ceilingThread), settings.requests()));
          ThreadCpu end = ThreadCpu.snapshot();
          relayCpu.add(micros(end.nanosSince(between, IngestBench::relayThread), settings.requests()));
          writerCpu.add(micros(end.nanosSince(between, name -> name.startsWith("outbox-")), settings.requests()));
          forwarderCpu.add(micros(end.nanosSince(between, name -> name.startsWith("forward-")), settings.requests()));
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
        new Figure(PART, "latency p99, ms", Figure.Better.LOWER, relayP99, ceilingP99, ceilingIs, 1),
        new Figure(PART, "server CPU per notification, µs", Figure.Better.LOWER, relayCpu, ceilingCpu, ceilingIs, 0));
    notes.add(0, String.format(Locale.ROOT,
        "ingest: %,d HAPI-shaped PUT [base]/Type/id per round (If-Match, application/fhir+json, Bearer; %s with fresh ids)"
            + " over %d connections (java.net.http, HTTP/1.1), after a warm-up of %,d; same client and Jetty %s for both;"
            + " %s; acknowledged = 200 after the outbox commit was fsynced; server CPU = CPU time of the server's own"
            + " threads (relay: Jetty pool, outbox writer, forwarder; ceiling: its Jetty pool) per notification%s",
        settings.requests(), corpus.source(), settings.concurrency(), settings.warmUp(),
        org.eclipse.jetty.util.Jetty.VERSION, pathlingNote, failures > 0 ? "; refusals are not counted as acknowledged" : ""));
    notes.add(String.format(Locale.ROOT,
        "ingest: of the relay's server CPU per notification (median), the outbox writer took %.0f µs and the forwarder %.0f µs;"
            + " the rest is its Jetty pool (HTTP, HAPI's parse, auth, waiting for the commit)",
        Percentiles.median(writerCpu), Percentiles.median(forwarderCpu)));
    return new PartResult(figures, notes);
  }

  /** The relay's threads: its Jetty pool ("http"), the outbox writer and the forwarder. */
  private static boolean relayThread(String name) {
    return name.startsWith("http-") || name.startsWith("outbox-") || name.startsWith("forward-");
  }

  private static boolean ceilingThread(String name) {
    return name.startsWith("ceiling-");
  }

  private static double micros(long nanos, int requests) {
    return nanos / 1_000.0 / requests;
  }

  private HapiNotifications.Notification notification(String prefix, int i) {
    SyntheaCorpus.Template template = corpus.templates().get(i % corpus.size());
    String id = prefix + i;
    return new HapiNotifications.Notification(template.type(), id, template.body(id));
  }
}
