package org.pathlingrelay.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.pathlingrelay.backfill.CatchUp;
import org.pathlingrelay.forward.ForwarderStatus;
import org.pathlingrelay.outbox.OutboxStats;
import org.pathlingrelay.outbox.SubscriptionState;
import org.pathlingrelay.verify.ScheduledVerify;
import org.pathlingrelay.verify.TypeStanding;

/**
 * The operator's endpoints: {@code /healthz} (the process answers), {@code /readyz} (a notification
 * would be acknowledged now, see {@link OutboxReadiness}; Pathling's circuit state is reported but does not make the relay unready,
 * because accepting changes while Pathling is down is the relay's job), {@code /status} (JSON) and
 * {@code /metrics} (Prometheus).
 */
public final class OpsServlet extends HttpServlet {

  private final transient Supplier<OutboxStats> outboxStats;
  private final transient Supplier<OutboxReadiness.Verdict> readiness;
  private final transient Supplier<ForwarderStatus> forwarderStatus;
  private final transient Supplier<Optional<CatchUp.Status>> catchUpStatus;
  private final transient Supplier<Optional<ScheduledVerify.Status>> verifyStatus;
  private final transient Supplier<List<SubscriptionState>> subscriptions;
  private final transient PrometheusMeterRegistry prometheus;
  private final transient InstantSource clock;
  private final transient ObjectMapper json =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public OpsServlet(
      Supplier<OutboxStats> outboxStats,
      Supplier<OutboxReadiness.Verdict> readiness,
      Supplier<ForwarderStatus> forwarderStatus,
      Supplier<Optional<CatchUp.Status>> catchUpStatus,
      Supplier<Optional<ScheduledVerify.Status>> verifyStatus,
      Supplier<List<SubscriptionState>> subscriptions,
      PrometheusMeterRegistry prometheus,
      InstantSource clock) {
    this.outboxStats = outboxStats;
    this.readiness = readiness;
    this.forwarderStatus = forwarderStatus;
    this.catchUpStatus = catchUpStatus;
    this.verifyStatus = verifyStatus;
    this.subscriptions = subscriptions;
    this.prometheus = prometheus;
    this.clock = clock;
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String path = request.getServletPath();
    switch (path) {
      case "/healthz" -> write(response, 200, Map.of("status", "UP"));
      case "/readyz" -> readiness(response);
      case "/status" -> write(response, 200, status());
      case "/metrics" -> {
        response.setStatus(200);
        response.setContentType("text/plain; version=0.0.4; charset=utf-8");
        response.getOutputStream().write(prometheus.scrape().getBytes(StandardCharsets.UTF_8));
      }
      default -> write(response, 404, Map.of("error", "not found"));
    }
  }

  private void readiness(HttpServletResponse response) throws IOException {
    OutboxReadiness.Verdict verdict = readiness.get();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("status", verdict.ready() ? "READY" : "NOT_READY");
    body.put("outboxWritable", verdict.ready());
    verdict.reason().ifPresent(reason -> body.put("reason", reason));
    body.put("dataDirFreeBytes", verdict.freeBytes());
    body.put("pathlingCircuit", forwarderStatus.get().circuitState());
    write(response, verdict.ready() ? 200 : 503, body);
  }

  private Map<String, Object> status() {
    Instant now = clock.instant();
    OutboxStats outbox = outboxStats.get();
    ForwarderStatus forwarder = forwarderStatus.get();
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("pending", outbox.pending());
    body.put("oldestPendingSince", text(outbox.oldestPendingAt()));
    body.put(
        "oldestPendingAgeSeconds",
        outbox.oldestPendingAt() == null
            ? 0
            : Duration.between(outbox.oldestPendingAt(), now).toMillis() / 1000.0);
    body.put("deadLetters", outbox.deadLetters());
    body.put("staleDrops", outbox.staleDrops());
    body.put("pings", outbox.pings());
    body.put("lastPingAt", text(outbox.lastPingAt()));
    Map<String, Object> forward = new LinkedHashMap<>();
    forward.put("mode", forwarder.mode());
    forward.put("circuitState", forwarder.circuitState());
    forward.put("typesInFlight", forwarder.typesInFlight());
    forward.put("typesBackingOff", forwarder.typesBackingOff());
    ForwarderStatus.Counts counts = forwarder.counts();
    forward.put("lastSuccessfulForward", text(counts.lastSuccessfulForward()));
    forward.put("requests", counts.requests());
    forward.put("delivered", counts.delivered());
    forward.put("deadLettered", counts.deadLettered());
    forward.put("lastRequestSize", counts.lastRequestSize());
    forward.put("largestRequestSize", counts.largestRequestSize());
    forward.put("meanRequestSize", Math.round(counts.meanRequestSize() * 10) / 10.0);
    body.put("forwarder", forward);
    List<Map<String, Object>> topics = new ArrayList<>();
    for (SubscriptionState state : subscriptions.get()) {
      Map<String, Object> topic = new LinkedHashMap<>();
      topic.put("subscription", state.subscription());
      topic.put("lastEventNumber", state.lastEventNumber());
      topic.put("lastNotification", state.lastType());
      topic.put("lastSeenAt", text(state.lastSeenAt()));
      topic.put("missedEventGaps", state.gaps());
      topic.put("awaitedEventNumbers", state.awaitedEvents());
      topics.add(topic);
    }
    if (!topics.isEmpty()) {
      body.put("topicSubscriptions", topics);
    }
    catchUpStatus.get().ifPresent(catchUp -> {
      Map<String, Object> sync = new LinkedHashMap<>();
      sync.put("watermark", catchUp.watermark().map(Instant::toString).orElse(null));
      sync.put("lastRunEnded", catchUp.lastRunEnded().map(Instant::toString).orElse(null));
      sync.put("lastOutcome", catchUp.lastOutcome().orElse(null));
      body.put("catchUp", sync);
    });
    verifyStatus.get().ifPresent(verify -> body.put("verify", verify(verify)));
    return body;
  }

  private static Map<String, Object> verify(ScheduledVerify.Status verify) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("countsEvery", verify.countsEvery().map(Duration::toString).orElse(null));
    body.put("fullEvery", verify.fullEvery().map(Duration::toString).orElse(null));
    body.put("lastCountCheck", verify.lastCountCheck().map(Instant::toString).orElse(null));
    body.put("lastFullCheck", verify.lastFullCheck().map(Instant::toString).orElse(null));
    body.put("lastOutcome", verify.lastOutcome().orElse(null));
    body.put("typesSettled", verify.typesSettled());
    Map<String, Object> differences = new LinkedHashMap<>();
    for (TypeStanding type : verify.differing()) {
      Map<String, Object> numbers = new LinkedHashMap<>();
      numbers.put("source", type.sourceCount());
      numbers.put("pathling", type.pathlingCount());
      numbers.putAll(type.differences());
      numbers.put("checkedAt", type.checkedAt().toString());
      differences.put(type.type(), numbers);
    }
    body.put("differences", differences);
    body.put("unsettled", verify.unsettled());
    return body;
  }

  private static String text(Instant instant) {
    return instant == null ? null : instant.toString();
  }

  private void write(HttpServletResponse response, int status, Object body) throws IOException {
    response.setStatus(status);
    response.setContentType("application/json");
    response.setCharacterEncoding("UTF-8");
    response.getOutputStream().write(json.writeValueAsBytes(body));
  }
}
