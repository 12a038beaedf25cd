package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.slf4j.LoggerFactory;

/** Serve with no Pathling listening: the log says so, with the cause, at once and then once a minute. */
class PathlingDownLogTest {

  @TempDir Path dataDir;
  private Relay relay;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger relayLog = (Logger) LoggerFactory.getLogger("org.pathlingrelay");
  private final MovableClock clock = new MovableClock();

  /** The system clock, moved ahead by the test to see what a minute later brings. */
  private static final class MovableClock implements InstantSource {
    private volatile Duration ahead = Duration.ZERO;

    @Override
    public Instant instant() {
      return Instant.now().plus(ahead);
    }
  }

  @BeforeEach
  void listen() {
    logged.start();
    relayLog.addAppender(logged);
  }

  @AfterEach
  void stop() {
    relayLog.detachAppender(logged);
    if (relay != null) {
      relay.close();
    }
  }

  private List<ILoggingEvent> saying(String text) {
    return List.copyOf(logged.list).stream().filter(e -> e.getFormattedMessage().contains(text)).toList();
  }

  @Test
  void pathlingUnreachable_isLoggedAtOnceWithItsCause_thenOnceAMinute_thenAsAnError() throws Exception {
    int closed;
    try (ServerSocket socket = new ServerSocket(0)) {
      closed = socket.getLocalPort();
    }
    relay = Relay.start(RelayHarness.config(dataDir, "http://127.0.0.1:" + closed + "/fhir", ForwardMode.BATCH), clock);
    HapiNotifier http = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    assertThat(http.put("Patient", "down-1", 1).status()).isEqualTo(200);

    await().atMost(Duration.ofSeconds(30)).until(() -> !saying("Pathling is not taking changes").isEmpty());
    assertThat(saying("Pathling is not taking changes")).singleElement().satisfies(line -> {
      assertThat(line.getLevel()).isEqualTo(Level.WARN);
      assertThat(line.getFormattedMessage()).contains("127.0.0.1:" + closed).contains("Connection refused")
          .contains("kept in the outbox");
    });
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
    assertThat(saying("Pathling is not taking changes")).as("not again within the minute").hasSize(1);

    clock.ahead = Duration.ofSeconds(61);
    await().atMost(Duration.ofSeconds(10)).until(() -> saying("Pathling is not taking changes").size() == 2);

    clock.ahead = Duration.ofMinutes(6);
    await().atMost(Duration.ofSeconds(10)).until(() -> !saying("Pathling has been failing since").isEmpty());
    assertThat(saying("Pathling has been failing since")).singleElement()
        .satisfies(line -> assertThat(line.getLevel()).isEqualTo(Level.ERROR));
    assertThat(relay.outbox().stats().pending()).isEqualTo(1);
  }
}
