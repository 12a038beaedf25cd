package org.pathlingrelay.cli;

import ca.uhn.fhir.context.FhirContext;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.auth.ReceiverAuthInterceptor;
import org.pathlingrelay.auth.ReceiverSecrets;
import org.pathlingrelay.backfill.Backfill;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.CatchUp;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.forward.Forwarder;
import org.pathlingrelay.forward.ForwarderLock;
import org.pathlingrelay.hosting.HttpHost;
import org.pathlingrelay.ops.OpsServlet;
import org.pathlingrelay.ops.OutboxMeterBinder;
import org.pathlingrelay.ops.OutboxReadiness;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.OutboxStats;
import org.pathlingrelay.receive.EventHoleTimer;
import org.pathlingrelay.receive.Receiver;
import org.pathlingrelay.receive.SourceReader;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.verify.ScheduledVerify;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.Parts;
import org.pathlingrelay.wiring.ReceiverSettings;
import org.pathlingrelay.wiring.SourceReaders;
import org.pathlingrelay.wiring.SourceSettings;
import org.pathlingrelay.wiring.VerifySettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running relay, wired by hand in data-flow order: outbox, forwarder, receiver, HTTP. This is
 * the only place that builds other packages' parts.
 */
public final class Relay implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  private final ForwarderLock lock;
  private final Outbox outbox;
  private final Forwarder forwarder;
  private final HttpHost http;
  private final CatchUp catchUp;
  private final ScheduledVerify verify;
  private final EventHoleTimer eventHoles;
  private final BulkExportClient sourceClient;
  private final Path outboxFile;

  private Relay(
      ForwarderLock lock, Outbox outbox, Forwarder forwarder, HttpHost http, CatchUp catchUp, ScheduledVerify verify,
      EventHoleTimer eventHoles, BulkExportClient sourceClient, Path outboxFile) {
    this.outboxFile = outboxFile;
    this.catchUp = catchUp;
    this.verify = verify;
    this.eventHoles = eventHoles;
    this.sourceClient = sourceClient;
    this.lock = lock;
    this.outbox = outbox;
    this.forwarder = forwarder;
    this.http = http;
  }

  /**
   * Starts serving: the receiver, the forwarder and, if the config names a source, catch-up from it
   * and the scheduled checks against it.
   */
  public static Relay start(RelayConfig config, InstantSource clock) throws Exception {
    ReceiverSettings receiverSettings = config.receiver();
    Optional<CatchUpSettings> catchUpSettings = config.catchUp();
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(meters);
    new JvmGcMetrics().bindTo(meters);
    new JvmThreadMetrics().bindTo(meters);
    new ProcessorMetrics().bindTo(meters);
    Parts parts = new Parts(clock, meters);
    FhirContext fhirContext = parts.fhirContext();

    ForwarderLock lock =
        ForwarderLock.tryAcquire(config.dataDir())
            .orElseThrow(() -> new OperatorMistake(
                "another pathling-relay process is already forwarding from " + config.dataDir().toAbsolutePath()
                    + "; stop it, or give this one its own --data-dir (RELAY_DATA_DIR)"));
    Outbox outbox;
    try {
      outbox = parts.outbox(config.dataDir());
    } catch (Exception e) {
      closeQuietly(lock);
      throw e;
    }
    Forwarder forwarder = null;
    HttpHost http = null;
    CatchUp catchUp = null;
    ScheduledVerify verify = null;
    BulkExportClient sourceClient = null;
    EventHoleTimer eventHoles = new EventHoleTimer(outbox);
    try {
      new OutboxMeterBinder(outbox::stats, clock).bindTo(meters);

      forwarder = parts.forwarder(outbox, config.forwarding());
      List<Object> interceptors = new ArrayList<>();
      if (!receiverSettings.noAuth()) {
        interceptors.add(new ReceiverAuthInterceptor(ReceiverSecrets.of(receiverSettings.secrets())));
      }
      Optional<SourceReader> sourceReader = catchUpSettings.map(
          settings -> SourceReaders.hapi(fhirContext, settings.source().sourceUrl(), settings.source().tokens()));
      Receiver receiver = new Receiver(
          fhirContext, outbox, receiverSettings.maxBodyBytes(), interceptors, meters, sourceReader, clock);
      if (catchUpSettings.isPresent() && catchUpSettings.get().interval() != null) {
        CatchUpSettings settings = catchUpSettings.get();
        SourceSettings source = settings.source();
        sourceClient = parts.sourceClient(source);
        Backfill backfill = parts.relayBackfill(sourceClient, outbox, config.dataDir(), forwarder::hold);
        catchUp = new CatchUp(
            backfill,
            watermark -> new BackfillPlan(
                ExportRequest.system(List.of(), watermark), LoadMode.RELAY, source.downloadConcurrency(), true),
            settings.interval(),
            settings.pingDebounce(),
            () -> outbox.stats().pings(),
            clock,
            CommandHint.ofThisProcess().command(List.of("backfill"), "--source-url", source.sourceUrl(),
                "--pathling-url", config.forwarding().pathlingUrl(), "--data-dir", config.dataDir().toString()));
      }
      if (config.verify().isPresent()) {
        SourceSettings source = catchUpSettings.orElseThrow().source();
        VerifySettings settings = config.verify().get();
        verify = parts.scheduledVerify(settings, source, config.forwarding(), outbox, config.dataDir(),
            CommandHint.ofThisProcess().command(List.of("verify", "--repair"), "--source-url", source.sourceUrl(),
                "--pathling-url", config.forwarding().pathlingUrl(), "--data-dir", config.dataDir().toString()));
      }
      Forwarder status = forwarder;
      CatchUp catchUpStatus = catchUp;
      ScheduledVerify verifyStatus = verify;
      OpsServlet ops =
          new OpsServlet(outbox::stats,
              new OutboxReadiness(
                  config.outboxFile().toAbsolutePath().getParent(), receiverSettings.maxBodyBytes(),
                  outbox::commitFailure)::check,
              status::status,
              () -> Optional.ofNullable(catchUpStatus).map(CatchUp::status),
              () -> Optional.ofNullable(verifyStatus).map(ScheduledVerify::status), outbox::subscriptions,
              meters, clock);
      http = HttpHost.start(receiverSettings.bind(), receiverSettings.port(), receiver.servlet(), receiver.filters(),
          ops, receiverSettings.tls(), receiverSettings.httpLimits());
      forwarder.start();
      eventHoles.start();
      if (catchUp != null) {
        catchUp.start();
      }
      if (verify != null) {
        verify.start();
      }
      log.info(
          "pathling-relay listening on {}://{}:{}/fhir, forwarding to {} ({} mode), outbox {}",
          receiverSettings.tls().isPresent() ? "https" : "http",
          receiverSettings.bind(),
          http.port(),
          config.forwarding().pathlingUrl(),
          config.forwarding().mode().name().toLowerCase(),
          config.outboxFile().toAbsolutePath().normalize());
      if (receiverSettings.noAuth()) {
        log.warn("Receiver authentication is OFF (--no-auth): anyone who can reach the port can send changes");
      }
      return new Relay(lock, outbox, forwarder, http, catchUp, verify, eventHoles, sourceClient, config.outboxFile());
    } catch (Exception e) {
      closeQuietly(verify);
      closeQuietly(catchUp);
      closeQuietly(sourceClient);
      closeQuietly(http);
      closeQuietly(eventHoles);
      closeQuietly(forwarder);
      closeQuietly(outbox);
      closeQuietly(lock);
      throw e;
    }
  }

  public int port() {
    return http.port();
  }

  public Outbox outbox() {
    return outbox;
  }

  public Forwarder forwarder() {
    return forwarder;
  }

  void awaitStop() throws InterruptedException {
    http.join();
  }

  @Override
  public void close() {
    // Stop taking notifications first, then let in-flight forwarding finish, then close the file.
    closeQuietly(http);
    closeQuietly(verify);
    closeQuietly(eventHoles);
    closeQuietly(catchUp);
    closeQuietly(sourceClient);
    closeQuietly(forwarder);
    logWhatIsKept();
    closeQuietly(outbox);
    closeQuietly(lock);
  }

  /** On the way out (SIGTERM too), say what the next start will pick up, so a stop is not silent. */
  private void logWhatIsKept() {
    try {
      OutboxStats stats = outbox.stats();
      String deadLetters = stats.deadLetters() == 0 ? ""
          : "; " + stats.deadLetters() + " dead letter(s) kept there for dead-letters list/retry";
      if (stats.pending() == 0) {
        log.info("Stopped: every change received was forwarded; nothing pending in {}{}", outboxFile, deadLetters);
      } else {
        log.info("Stopped: {} change(s) pending in {} will be forwarded at the next start{}",
            stats.pending(), outboxFile, deadLetters);
      }
    } catch (RuntimeException e) {
      log.warn("Stopped; could not count what is pending in {}: {}", outboxFile, e.getMessage());
    }
  }

  private static void closeQuietly(AutoCloseable closeable) {
    if (closeable == null) {
      return;
    }
    try {
      closeable.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("Error while shutting down {}: {}", closeable.getClass().getSimpleName(), e.getMessage());
    }
  }
}
