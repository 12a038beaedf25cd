package org.pathlingrelay.wiring;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.LenientErrorHandler;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.backfill.Backfill;
import org.pathlingrelay.backfill.BackfillProgress;
import org.pathlingrelay.backfill.DeliveryWatch;
import org.pathlingrelay.backfill.ForwardingHold;
import org.pathlingrelay.backfill.StagingAreas;
import org.pathlingrelay.datadir.DataDirFiles;
import org.pathlingrelay.forward.Forwarder;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.TypeBacklog;
import org.pathlingrelay.pathling.PathlingCalls;
import org.pathlingrelay.pathling.PathlingServer;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.SourceClients;
import org.pathlingrelay.source.SourceHistory;
import org.pathlingrelay.source.SourceListing;
import org.pathlingrelay.verify.ScheduledVerify;
import org.pathlingrelay.verify.Verifier;

/**
 * The one place that builds the relay's parts (outbox, forwarder, source client, backfill) for
 * every command, so that {@code serve}, {@code backfill}, {@code sync} and the catch-up inside
 * {@code serve} get the same parts with the same defaults. Commands parse their options and call
 * this; what they do with the parts (serve HTTP, print progress) stays with them.
 */
public final class Parts {

  /** Bulk loads poll Pathling's {@code $job}: from this often, backing off to at most the cap. */
  private static final Duration IMPORT_POLL_FLOOR = Duration.ofSeconds(1);
  private static final Duration IMPORT_POLL_CAP = Duration.ofSeconds(30);

  private final FhirContext fhirContext = newFhirContext();
  private final InstantSource clock;
  private final MeterRegistry meters;
  /** Every part's retries, so that each reports its metrics. */
  private final RetryRegistry retries = RetryRegistry.ofDefaults();
  /** One per Pathling: a command's forwarder and its bulk loads share the breaker. */
  private final Map<PathlingKey, PathlingServer> pathlings = new HashMap<>();

  /** What makes two Pathling connections the same one. */
  private record PathlingKey(String url, AccessTokens tokens, Duration timeout, ResilienceSettings resilience) {}

  public Parts(InstantSource clock, MeterRegistry meters) {
    this.clock = clock;
    this.meters = meters;
    TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
  }

  /** The FHIR context every part parses and writes with. */
  public static FhirContext newFhirContext() {
    FhirContext fhirContext = FhirContext.forR4();
    // Unknown elements are kept in the stored JSON anyway; logging each would flood the log.
    fhirContext.setParserErrorHandler(new LenientErrorHandler(false));
    // A Bundle entry's resource keeps its own id; fullUrl (often urn:uuid) must not replace it.
    fhirContext.getParserOptions().setOverrideResourceIdWithBundleEntryFullUrl(false);
    return fhirContext;
  }

  public FhirContext fhirContext() {
    return fhirContext;
  }

  public MeterRegistry meters() {
    return meters;
  }

  /** Opens (creating if need be) the data dir's outbox. */
  public Outbox outbox(Path dataDir) throws SQLException {
    return Outbox.open(DataDirFiles.outbox(dataDir), clock);
  }

  /** Builds (but does not start) the forwarder from the outbox to Pathling, with its metrics. */
  public Forwarder forwarder(Outbox outbox, ForwardingSettings settings) {
    return forwarder(outbox, settings, failure -> {});
  }

  /** @param pathlingFailures told of each failed call to Pathling (a backfill says why it waits) */
  public Forwarder forwarder(Outbox outbox, ForwardingSettings settings, Consumer<Throwable> pathlingFailures) {
    PathlingServer pathling = pathling(settings);
    pathling.calls().onFailure(pathlingFailures);
    Forwarder forwarder =
        new Forwarder(
            outbox,
            pathling.writer(),
            pathling.calls(),
            new Forwarder.Settings(
                settings.mode(),
                settings.batchMax(),
                settings.linger(),
                settings.parallelTypes(),
                settings.resilience().initialBackoff().multipliedBy(5)),
            clock,
            meters);
    outbox.onCommit(forwarder::wake);
    return forwarder;
  }

  /**
   * The Pathling the settings name, with its Retry and circuit breaker (and their metrics): built
   * once, so that the forwarder and the bulk loads of one command go through the same breaker.
   */
  public synchronized PathlingServer pathling(ForwardingSettings settings) {
    PathlingKey key = new PathlingKey(
        settings.pathlingUrl(), settings.pathlingTokens(), settings.pathlingTimeout(), settings.resilience());
    return pathlings.computeIfAbsent(key, k -> {
      CircuitBreakerRegistry breakers = CircuitBreakerRegistry.ofDefaults();
      PathlingCalls calls = new PathlingCalls(k.resilience(), retries, breakers);
      TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
      return new PathlingServer(fhirContext, k.url(), k.tokens(), k.timeout(), calls, clock);
    });
  }

  /** The source's Bulk Data client (the caller closes it). */
  public BulkExportClient sourceClient(SourceSettings source) {
    return new BulkExportClient(
        source.sourceUrl(), source.tokens(), BulkExportClient.Settings.DEFAULTS, source.downloadConcurrency(),
        Pause.SLEEP, retries);
  }

  /** What the source holds now, by search: {@code verify}'s listings and a repair's reads. */
  public SourceListing sourceListing(String sourceUrl, AccessTokens tokens) {
    return new SourceListing(SourceClients.fhirClient(fhirContext, sourceUrl, tokens),
        retries.retry(SourceListing.RETRY, SourceListing.retryConfig()));
  }

  /**
   * {@code serve}'s scheduled checks of Pathling against the source: read-only, on the outbox's
   * types unless the settings name some, judging no type while changes of it are pending.
   *
   * @param scratchDir where a full check's temporary comparison file goes (the data dir)
   * @param howToRepair the command that mends a difference, for the log
   */
  public ScheduledVerify scheduledVerify(
      VerifySettings settings, SourceSettings source, ForwardingSettings pathling, Outbox outbox, Path scratchDir,
      String howToRepair) {
    Verifier verifier = new Verifier(sourceListing(source.sourceUrl(), source.tokens()), pathling(pathling).reader(),
        scratchDir, VerifySettings.PAGE_SIZE);
    return new ScheduledVerify(
        Optional.ofNullable(settings.countsInterval()), Optional.ofNullable(settings.fullInterval()),
        settings.types(), verifier, outbox::types, () -> pendingTypes(outbox), clock, meters, howToRepair);
  }

  private static Set<String> pendingTypes(Outbox outbox) {
    return outbox.backlog(1).stream().map(TypeBacklog::type).collect(Collectors.toSet());
  }

  /**
   * A backfill that loads through the outbox only: the catch-up inside {@code serve}.
   *
   * @param hold pauses the forwarding of each type until its files are queued
   */
  public Backfill relayBackfill(BulkExportClient source, Outbox outbox, Path dataDir, ForwardingHold hold) {
    return new Backfill(source, outbox, outbox, dataDir, fhirContext.getResourceTypes(), Pause.SLEEP,
        null, hold, BackfillProgress.log(), DeliveryWatch.unbounded(), retries, history(source));
  }

  /**
   * A backfill with every load, Pathling's bulk loads included.
   *
   * @param hold pauses this process's forwarding of the types being loaded
   * @param watch how long to wait for forwarding that delivers nothing, and what is known of why
   */
  public Backfill backfill(
      BulkExportClient source, Outbox outbox, Path dataDir, ForwardingSettings pathling,
      StagingAreas stagingAreas, ForwardingHold hold, BackfillProgress progress, DeliveryWatch watch) {
    return new Backfill(source, outbox, outbox, dataDir, fhirContext.getResourceTypes(), Pause.SLEEP,
        new Backfill.PathlingLoads(
            pathling(pathling).imports(Pause.SLEEP, IMPORT_POLL_FLOOR, IMPORT_POLL_CAP), stagingAreas),
        hold, progress, watch, retries, history(source));
  }

  /** The source's {@code _history}, where a sync finds its deletes. */
  private SourceHistory history(BulkExportClient source) {
    return new SourceHistory(SourceClients.fhirClient(fhirContext, source.baseUrl(), source.tokens()));
  }
}
