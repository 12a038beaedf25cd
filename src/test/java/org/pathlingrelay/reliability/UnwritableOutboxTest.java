package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ReceiverSettings;
import org.slf4j.LoggerFactory;

/**
 * A data dir that cannot take writes: the receiver must answer 503 with Retry-After (so the
 * source retries) rather than acknowledge what it cannot store, {@code /readyz} must say so, and
 * the relay must take changes again, without a restart, once the disk has room. The data dir is
 * a real tmpfs filled to the last byte, as the tests run as root, where permissions stop nothing.
 */
class UnwritableOutboxTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path scratch;
  private SmallDisk disk;
  private Relay relay;
  private final HttpClient http = HttpClient.newHttpClient();
  private final ListAppender<ILoggingEvent> refusals = new ListAppender<>();
  /** Everything the relay logs, to count the lines a run of refusals costs. */
  private final Logger rejectionLog = (Logger) LoggerFactory.getLogger("org.pathlingrelay");
  /** The system clock, which a test can move ahead, to see what is logged after a while. */
  private final OffsetClock clock = new OffsetClock();

  /** Small enough that a notification of it fits on the small disks here, with room to spare. */
  private static final long MAX_BODY = 256 * 1024;

  private static final class OffsetClock implements InstantSource {
    private volatile Duration offset = Duration.ZERO;

    void advance(Duration by) {
      offset = offset.plus(by);
    }

    @Override
    public java.time.Instant instant() {
      return java.time.Instant.now().plus(offset);
    }
  }

  private Relay start(Path dataDir) throws Exception {
    RelayConfig defaults = RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH);
    ReceiverSettings receiver = defaults.receiver();
    return Relay.start(new RelayConfig(
        new ReceiverSettings(receiver.bind(), receiver.port(), receiver.secrets(), receiver.noAuth(), MAX_BODY),
        defaults.dataDir(), defaults.forwarding()), clock);
  }

  @BeforeEach
  void captureRefusals() {
    refusals.start();
    rejectionLog.addAppender(refusals);
  }

  @AfterEach
  void stopAndUnmount() throws Exception {
    rejectionLog.detachAppender(refusals);
    if (relay != null) {
      relay.close();
    }
    if (disk != null) {
      disk.close();
    }
  }

  private HttpResponse<String> notify(String id) throws Exception {
    // About 3 KB per resource, so that a few hundred fill what is left of the disk.
    return notify(id, 3_000);
  }

  private HttpResponse<String> notify(String id, int nameLength) throws Exception {
    String body = "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"1\"},"
        + "\"name\":[{\"text\":\"" + "n".repeat(nameLength) + "\"}]}";
    return http.send(
        HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay) + "/Patient/" + id))
            .header("Authorization", "Bearer " + RelayHarness.SECRET)
            .header("Content-Type", "application/fhir+json; charset=UTF-8")
            .timeout(Duration.ofSeconds(30))
            .PUT(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private int readyz() throws Exception {
    return readiness().statusCode();
  }

  private HttpResponse<String> readiness() throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + relay.port() + "/readyz")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private List<String> logged(String prefix) {
    return refusals.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(line -> line.startsWith(prefix)).toList();
  }

  /** What the receiver and the outbox logged (the forwarder's lines about Pathling aside). */
  private List<ILoggingEvent> receivingLines() {
    return refusals.list.stream()
        .filter(event -> event.getLoggerName().startsWith("org.pathlingrelay.receive")
            || event.getLoggerName().startsWith("org.pathlingrelay.outbox"))
        .toList();
  }

  private static void assertRefusedAsUnavailable(HttpResponse<String> answer) {
    assertThat(answer.statusCode()).isEqualTo(503);
    assertThat(answer.headers().firstValue("Retry-After")).isPresent();
    assertThat(answer.body().replace(" ", "")).contains("\"resourceType\":\"OperationOutcome\"");
  }

  @Test
  void aFullDisk_isAnswered503WithRetryAfter_readyzSaysSo_andTheRelayRecoversWhenSpaceReturns()
      throws Exception {
    disk = SmallDisk.mount(scratch.resolve("data"), "4m");
    pathling.goDown(); // so that what is acknowledged stays in the outbox, on the small disk
    relay = start(disk.path());
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      assertThat(notify("before" + i).statusCode()).isEqualTo(200);
      acknowledged.add("before" + i);
    }
    assertThat(readyz()).isEqualTo(200);

    refusals.list.clear();
    long filled = disk.fill(disk.path().resolve("filler"));
    HttpResponse<String> refused = null;
    List<String> refusedIds = new ArrayList<>();
    for (int i = 0; i < 2_000 && refused == null; i++) {
      HttpResponse<String> answer = notify("full" + i);
      if (answer.statusCode() == 200) {
        acknowledged.add("full" + i); // SQLite may still reuse space its WAL already holds
      } else {
        refused = answer;
        refusedIds.add("full" + i);
      }
    }
    System.out.printf("disk full: filler %d bytes, %d acknowledged in all, then refused with %d%n",
        filled, acknowledged.size(), refused == null ? 0 : refused.statusCode());

    assertThat(refused).as("a notification the full disk cannot hold").isNotNull();
    assertRefusedAsUnavailable(refused);
    HttpResponse<String> notReady = readiness();
    assertThat(notReady.statusCode()).as("readyz while the disk is full").isEqualTo(503);
    assertThat(notReady.body()).as("readyz says why").contains("NOT_READY", "free", "--max-body");
    for (int i = 0; i < 10; i++) {
      assertThat(notify("still-full" + i).statusCode()).as("refused while the disk stays full").isEqualTo(503);
      refusedIds.add("still-full" + i);
    }
    assertThat(logged("Answered 503")).as("the first refusal logged in full, the others held back")
        .hasSize(1)
        .allSatisfy(line -> assertThat(line).contains("/fhir/Patient/full", "SQLITE_FULL"));
    assertThat(receivingLines()).as("%d refusals: the outbox's failure and the first refusal, no stack trace",
            refusedIds.size())
        .hasSize(2)
        .allSatisfy(event -> assertThat(event.getThrowableProxy()).isNull());

    Files.delete(disk.path().resolve("filler"));
    await("readyz recovers without a restart")
        .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
        .until(() -> readyz() == 200);
    for (int i = 0; i < 20; i++) {
      assertThat(notify("after" + i).statusCode()).isEqualTo(200);
      acknowledged.add("after" + i);
    }
    assertThat(logged("Outbox commits succeed again")).as("the recovery is logged").hasSize(1);

    pathling.comeBack();
    await("everything acknowledged reaches Pathling")
        .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> pathling.ids("Patient").containsAll(acknowledged) && relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Patient")).as("only what was acknowledged")
        .containsExactlyInAnyOrderElementsOf(acknowledged);
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void aDiskWithRoomForATinyWriteButNoNotification_readyzSays503WithTheReason_andRepeatedRefusalsAreSummarized()
      throws Exception {
    disk = SmallDisk.mount(scratch.resolve("data"), "4m");
    pathling.goDown();
    relay = start(disk.path());
    for (int i = 0; i < 5; i++) {
      assertThat(notify("before" + i).statusCode()).isEqualTo(200);
    }
    assertThat(readyz()).isEqualTo(200);

    // Leave 96 KiB: a probe's few pages still fit, a notification of 200 KB does not.
    Path slack = disk.path().resolve("slack");
    Files.write(slack, new byte[96 * 1024]);
    disk.fill(disk.path().resolve("filler"));
    Files.delete(slack);
    refusals.list.clear();
    int large = 200_000;
    assertRefusedAsUnavailable(notify("large0", large));
    HttpResponse<String> notReady = readiness();
    System.out.printf("%d bytes free; readyz %d %s%n", disk.free(), notReady.statusCode(), notReady.body());
    assertThat(notReady.statusCode()).as("readyz while a notification cannot be stored").isEqualTo(503);
    assertThat(notReady.body()).contains("NOT_READY", "--max-body 256.0 KiB");

    // The source keeps retrying: one refusal every 2 s for 40 s.
    for (int i = 1; i <= 20; i++) {
      clock.advance(Duration.ofSeconds(2));
      assertRefusedAsUnavailable(notify("large" + i, large));
    }
    assertThat(logged("Answered 503")).as("only the first of the run in full").hasSize(1)
        .allSatisfy(line -> assertThat(line).contains("PUT /fhir/Patient/large0", "SQLITE_FULL"));
    assertThat(logged("15 more notifications answered 503 in the last "))
        .as("then a count once per 30 s").hasSize(1)
        .allSatisfy(line -> assertThat(line).matches(".* in the last 3\\d s: .*SQLITE_FULL.*"));
    assertThat(receivingLines()).as("21 refusals: the outbox's failure, the first refusal, one count")
        .hasSize(3);

    Files.delete(disk.path().resolve("filler"));
    assertThat(readyz()).as("ready again once there is room").isEqualTo(200);
    assertThat(notify("large-after", large).statusCode()).isEqualTo(200);
  }

  @Test
  void aDataDirTheKernelTurnsReadOnly_isAnswered503_readyzSaysSo_andNothingAcknowledgedIsLost()
      throws Exception {
    Path image = scratch.resolve("data.ext4");
    disk = SmallDisk.ext4(image, scratch.resolve("data"), 16);
    pathling.goDown();
    relay = start(disk.path());
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      assertThat(notify("before" + i).statusCode()).isEqualTo(200);
      acknowledged.add("before" + i);
    }
    assertThat(readyz()).isEqualTo(200);

    disk.failIntoReadOnly();
    for (int i = 0; i < 5; i++) {
      assertRefusedAsUnavailable(notify("read-only" + i));
    }
    assertThat(readyz()).isEqualTo(503);
    assertThat(readyz()).as("and stays so").isEqualTo(503);

    // A file system the kernel made read-only after an error takes no remount while files are
    // open: the operator stops the relay, repairs the file system and starts it again.
    relay.close();
    relay = null;
    disk.close();
    disk.remount(image);
    relay = start(disk.path());
    assertThat(readyz()).isEqualTo(200);
    assertThat(relay.outbox().stats().pending()).as("acknowledged before the error").isEqualTo(20);
    pathling.comeBack();
    await("everything acknowledged reaches Pathling")
        .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Patient")).containsExactlyInAnyOrderElementsOf(acknowledged);
  }
}
