package org.pathlingrelay.receive;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs each refused request at most once, with what was wrong and never with headers (they carry
 * the secret) or the body (it carries patient data), and counts refusals by status. The relay's
 * own 503s come in runs (a full disk refuses everything): the first is logged in full, then a
 * count every {@link #SUMMARY_PERIOD}.
 */
@Interceptor
final class RejectionLogger {

  private static final Logger log = LoggerFactory.getLogger(RejectionLogger.class);
  private final MeterRegistry meters;
  /** One counter per status, built once: a flood of bad requests should not rebuild meter ids. */
  private final Map<Integer, Counter> refusedByStatus = new ConcurrentHashMap<>();
  static final Duration SUMMARY_PERIOD = Duration.ofSeconds(30);
  private final RepeatedWarnings unavailable;

  RejectionLogger(MeterRegistry meters, InstantSource clock) {
    this.meters = meters;
    this.unavailable = new RepeatedWarnings(log, "notifications answered 503", SUMMARY_PERIOD, clock);
  }

  @Hook(Pointcut.SERVER_HANDLE_EXCEPTION)
  public boolean logRejection(
      RequestDetails details, HttpServletRequest request, BaseServerResponseException exception) {
    int status = exception.getStatusCode();
    String target = request.getMethod() + " " + request.getRequestURI();
    if (status == 503) {
      logUnavailable(target, exception.getMessage(), Optional.ofNullable(exception.getCause()).map(Throwable::getMessage));
      return true;
    } else if (status >= 500) {
      log.warn("Answered {} {}: {}", status, target, exception.getMessage(), exception);
    } else {
      log.info("Refused {} with {}: {}", target, status, exception.getMessage());
    }
    refusedByStatus.computeIfAbsent(status, this::refusedCounter).increment();
    return true;
  }

  /**
   * The relay's own "not stored, retry" answer (outbox full or unwritable, source unreadable): its
   * cause is logged where it happened. A stack trace for every retried notification would flood
   * the log, perhaps on the very disk that is full; so would a line for each.
   *
   * @param cause why the outbox could not store it, for the operator (the sender is not told)
   */
  void logUnavailable(String target, String message, Optional<String> cause) {
    String kind = message + cause.map(text -> " (" + text + ")").orElse("");
    unavailable.warn(kind, "Answered 503 " + target + ": " + kind);
    refusedByStatus.computeIfAbsent(503, this::refusedCounter).increment();
  }

  private Counter refusedCounter(int status) {
    return Counter.builder("relay.notifications.refused")
        .description("Requests the receiver refused, by HTTP status")
        .tag("status", Integer.toString(status))
        .register(meters);
  }
}
