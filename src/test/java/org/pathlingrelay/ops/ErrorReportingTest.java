package org.pathlingrelay.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.sentry.Hint;
import io.sentry.SentryEnvelope;
import io.sentry.SentryOptions;
import io.sentry.transport.ITransport;
import io.sentry.transport.RateLimiter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** With SENTRY_DSN, an ERROR log line becomes a Sentry event, with secrets and resource bodies removed. */
class ErrorReportingTest {

  private static final Logger log = LoggerFactory.getLogger("org.pathlingrelay.forward.TypeDelivery");

  /** Keeps what would be sent, serialized exactly as it would go over the wire. */
  private static final class CapturingTransport implements ITransport {
    private final SentryOptions options;
    private final List<String> sent;

    CapturingTransport(SentryOptions options, List<String> sent) {
      this.options = options;
      this.sent = sent;
    }

    @Override
    public void send(SentryEnvelope envelope, Hint hint) throws java.io.IOException {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try {
        options.getSerializer().serialize(envelope, out);
      } catch (Exception e) {
        throw new java.io.IOException(e);
      }
      sent.add(out.toString(StandardCharsets.UTF_8));
    }

    @Override
    public void flush(long timeoutMillis) {}

    @Override
    public RateLimiter getRateLimiter() {
      return null;
    }

    @Override
    public void close(boolean isRestarting) {}

    @Override
    public void close() {}
  }

  @Test
  void anErrorBecomesAnEvent_withoutResourceContentOrSecrets() {
    List<String> sent = new CopyOnWriteArrayList<>();
    try (ErrorReporting reporting = ErrorReporting.install(
        "https://public-key@sentry.invalid/42", Optional.of("test"), Optional.of("relay@test"),
        options -> options.setTransportFactory((opts, details) -> new CapturingTransport(opts, sent)))) {
      log.info("Forwarded 3 Patient in 1 request(s) with Authorization: Bearer breadcrumb-token-123");
      log.error("Pathling refused Patient/p1 with 400; body was {\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Secretson\"}]}"
              + " client_secret=hunter2",
          new IllegalStateException("rejected {\"resourceType\":\"Patient\",\"birthDate\":\"1970-01-01\"} Bearer eyJhbGciOi.abc.def"));
      io.sentry.Sentry.flush(5_000);
    }

    assertThat(sent).isNotEmpty();
    String envelope = String.join("\n", sent);
    assertThat(envelope).contains("Pathling refused Patient/p1 with 400").contains("relay@test").contains("IllegalStateException");
    assertThat(envelope)
        .doesNotContain("Secretson")
        .doesNotContain("1970-01-01")
        .doesNotContain("hunter2")
        .doesNotContain("eyJhbGciOi")
        .doesNotContain("breadcrumb-token-123");
  }

  @Test
  void scrub_removesJsonBearerTokensAndSecretValues() {
    assertThat(SentryScrubber.scrub("a {\"x\":1} b")).isEqualTo("a [content removed] b");
    assertThat(SentryScrubber.scrub("Authorization: Bearer abc.def")).isEqualTo("Authorization: Bearer [removed]");
    assertThat(SentryScrubber.scrub("password=pw1 and token: t2")).isEqualTo("password=[removed] and token: [removed]");
  }
}
