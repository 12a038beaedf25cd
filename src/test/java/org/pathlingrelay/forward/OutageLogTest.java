package org.pathlingrelay.forward;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.github.resilience4j.circuitbreaker.CircuitBreaker.State;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the forwarder tells the operator while Pathling fails, at given instants, with no waiting. */
class OutageLogTest {

  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");

  private final OutageLog outage = new OutageLog();
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger forwarderLog = (Logger) LoggerFactory.getLogger(Forwarder.class);

  @BeforeEach
  void listen() {
    logged.start();
    forwarderLog.addAppender(logged);
  }

  @AfterEach
  void stop() {
    forwarderLog.detachAppender(logged);
  }

  private List<String> lines() {
    return logged.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
  }

  @Test
  void healthyPathling_nothingIsLogged() {
    outage.report(NOW, State.CLOSED);
    outage.report(NOW.plus(Duration.ofHours(1)), State.CLOSED);

    assertThat(lines()).isEmpty();
  }

  @Test
  void failingPathling_warnsAtOnceWithTheCause_thenOnceAMinute_thenAnErrorAfterFiveMinutes() {
    outage.failed("Connection refused");
    outage.circuit(State.OPEN, NOW);

    outage.report(NOW, State.OPEN);
    outage.report(NOW.plusSeconds(59), State.OPEN);
    assertThat(lines()).singleElement().asString()
        .startsWith("WARN Pathling is not taking changes").contains("circuit OPEN").contains("Connection refused");

    outage.report(NOW.plusSeconds(60), State.HALF_OPEN);
    assertThat(lines()).hasSize(2);

    outage.report(NOW.plus(OutageLog.LONG_OUTAGE).plusSeconds(1), State.OPEN);
    assertThat(logged.list).last().satisfies(line -> {
      assertThat(line.getLevel()).isEqualTo(Level.ERROR);
      assertThat(line.getFormattedMessage()).startsWith("Pathling has been failing since " + NOW);
    });
    outage.report(NOW.plus(OutageLog.LONG_OUTAGE).plusSeconds(2), State.OPEN);
    assertThat(lines()).as("the error once, then reminders a minute apart").hasSize(3);
  }

  @Test
  void recovery_afterTheError_isLogged_andANewOutageStartsAfresh() {
    outage.circuit(State.OPEN, NOW);
    outage.report(NOW.plus(Duration.ofMinutes(6)), State.OPEN);
    outage.circuit(State.CLOSED, NOW.plus(Duration.ofMinutes(7)));
    assertThat(lines()).last().isEqualTo("INFO Pathling answers again; forwarding resumed");

    Instant later = NOW.plus(Duration.ofHours(1));
    outage.circuit(State.OPEN, later);
    outage.report(later, State.OPEN);
    assertThat(lines()).last().asString().startsWith("WARN Pathling is not taking changes (failing since " + later);
  }
}
