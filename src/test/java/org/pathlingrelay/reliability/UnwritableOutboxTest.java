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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;
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
  private final Logger rejectionLog =
      (Logger) LoggerFactory.getLogger("org.pathlingrelay.receive.RejectionLogger");

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
    String body = "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"1\"},"
        + "\"name\":[{\"text\":\"" + "n".repeat(3_000) + "\"}]}";
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
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + relay.port() + "/readyz")).build(),
            HttpResponse.BodyHandlers.ofString())
        .statusCode();
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
    relay = RelayHarness.start(RelayHarness.config(disk.path(), pathling.baseUrl(), ForwardMode.BATCH));
    List<String> acknowledged = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      assertThat(notify("before" + i).statusCode()).isEqualTo(200);
      acknowledged.add("before" + i);
    }
    assertThat(readyz()).isEqualTo(200);

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
    await("readyz reports the outbox unwritable")
        .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
        .until(() -> readyz() == 503);
    assertThat(notify("still-full").statusCode()).as("refused while the disk stays full").isEqualTo(503);
    refusedIds.add("still-full");
    assertThat(refusals.list).as("each refusal logged once, without a stack trace to flood the disk")
        .filteredOn(event -> event.getFormattedMessage().startsWith("Answered 503"))
        .hasSize(refusedIds.size())
        .allSatisfy(event -> assertThat(event.getThrowableProxy()).isNull());

    Files.delete(disk.path().resolve("filler"));
    await("readyz recovers without a restart")
        .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
        .until(() -> readyz() == 200);
    for (int i = 0; i < 20; i++) {
      assertThat(notify("after" + i).statusCode()).isEqualTo(200);
      acknowledged.add("after" + i);
    }

    pathling.comeBack();
    await("everything acknowledged reaches Pathling")
        .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> pathling.ids("Patient").containsAll(acknowledged) && relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Patient")).as("only what was acknowledged")
        .containsExactlyInAnyOrderElementsOf(acknowledged);
    assertThat(pathling.duplicateIds()).isEmpty();
  }

  @Test
  void aDataDirTheKernelTurnsReadOnly_isAnswered503_readyzSaysSo_andNothingAcknowledgedIsLost()
      throws Exception {
    Path image = scratch.resolve("data.ext4");
    disk = SmallDisk.ext4(image, scratch.resolve("data"), 16);
    pathling.goDown();
    relay = RelayHarness.start(RelayHarness.config(disk.path(), pathling.baseUrl(), ForwardMode.BATCH));
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
    relay = RelayHarness.start(RelayHarness.config(disk.path(), pathling.baseUrl(), ForwardMode.BATCH));
    assertThat(readyz()).isEqualTo(200);
    assertThat(relay.outbox().stats().pending()).as("acknowledged before the error").isEqualTo(20);
    pathling.comeBack();
    await("everything acknowledged reaches Pathling")
        .atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
        .until(() -> relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Patient")).containsExactlyInAnyOrderElementsOf(acknowledged);
  }
}
