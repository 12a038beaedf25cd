package org.pathlingrelay.receive;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A run of identical warnings costs its first line and a count per period, timed by the injected clock. */
class RepeatedWarningsTest {

  private static final String KIND = "The outbox cannot store changes right now; please retry (disk full)";

  private final Logger log = (Logger) LoggerFactory.getLogger("org.pathlingrelay.ops.RepeatedWarningsTest");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
  private Instant now = Instant.parse("2026-01-01T00:00:00Z");
  private final InstantSource clock = () -> now;
  private final RepeatedWarnings warnings =
      new RepeatedWarnings(log, "notifications answered 503", Duration.ofSeconds(30), clock);

  @BeforeEach
  void capture() {
    lines.start();
    log.addAppender(lines);
  }

  @AfterEach
  void release() {
    log.detachAppender(lines);
  }

  private void refuse(int times, Duration apart) {
    for (int i = 0; i < times; i++) {
      warnings.warn(KIND, "Answered 503 PUT /fhir/Patient/p" + i + ": " + KIND);
      now = now.plus(apart);
    }
  }

  private java.util.List<String> logged() {
    return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void aSteadyRunOfRefusals_logsTheFirstInFull_thenACountEvery30Seconds() {
    refuse(121, Duration.ofMillis(500)); // one every half second for a minute

    assertThat(logged()).containsExactly(
        "Answered 503 PUT /fhir/Patient/p0: " + KIND,
        "60 more notifications answered 503 in the last 30 s: " + KIND,
        "60 more notifications answered 503 in the last 30 s: " + KIND);
  }

  @Test
  void aRunThatStops_isCountedWhenTheNextOneStarts_whichIsLoggedInFullAgain() {
    refuse(10, Duration.ofSeconds(1));
    now = now.plus(Duration.ofMinutes(5));
    refuse(1, Duration.ZERO);

    assertThat(logged()).containsExactly(
        "Answered 503 PUT /fhir/Patient/p0: " + KIND,
        "9 more notifications answered 503 in the last 9 s: " + KIND,
        "Answered 503 PUT /fhir/Patient/p0: " + KIND);
  }

  @Test
  void differentFailures_areEachLoggedInFull() {
    warnings.warn(KIND, "Answered 503 PUT /fhir/Patient/a: " + KIND);
    warnings.warn("The outbox did not commit in time; please retry", "Answered 503 PUT /fhir/Patient/b: timed out");

    assertThat(logged()).hasSize(2);
  }
}
