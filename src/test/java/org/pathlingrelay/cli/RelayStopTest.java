package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;
import org.slf4j.LoggerFactory;

/** A stopping relay (SIGTERM runs {@link Relay#close}) says what it leaves for the next start. */
class RelayStopTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dir;

  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger relayLog = (Logger) LoggerFactory.getLogger(Relay.class);

  @BeforeEach
  void captureLog() {
    logged.start();
    relayLog.addAppender(logged);
  }

  @AfterEach
  void releaseLog() {
    relayLog.detachAppender(logged);
  }

  private List<String> messages() {
    return logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  private static Change patient(String id) {
    return Change.upsert(new ResourceKey("Patient", id), new VersionStamp(1L, null),
        "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\"}");
  }

  @Test
  void close_withChangesPathlingDidNotTake_saysHowManyAreKeptAndWhere() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    Path dataDir = dir.resolve("data");
    RelayConfig config = RelayHarness.config(dataDir, "http://127.0.0.1:" + closedPort + "/fhir", ForwardMode.BATCH);
    Relay relay = RelayHarness.start(config);
    relay.outbox().append(List.of(patient("a"), patient("b"))).join();

    relay.close();

    assertThat(messages()).contains("Stopped: 2 change(s) pending in " + config.outboxFile()
        + " will be forwarded at the next start");
  }

  @Test
  void close_afterEverythingWasForwarded_saysNothingIsPending() throws Exception {
    Path dataDir = dir.resolve("data");
    RelayConfig config = RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH);
    Relay relay = RelayHarness.start(config);
    relay.outbox().append(List.of(patient("a"))).join();
    await().atMost(Duration.ofSeconds(20)).until(() -> relay.outbox().stats().pending() == 0);

    relay.close();

    assertThat(messages()).contains(
        "Stopped: every change received was forwarded; nothing pending in " + config.outboxFile());
  }
}
