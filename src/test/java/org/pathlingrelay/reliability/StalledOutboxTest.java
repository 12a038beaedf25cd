package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.HapiNotifier.Answer;
import org.pathlingrelay.testing.RelayHarness;
import org.slf4j.LoggerFactory;

/**
 * An outbox that stops committing for a while (here another process holds its write lock; in
 * life a stalled disk): senders must hear 503 with Retry-After before HAPI's own 10 s timeout,
 * never a 200 for what is not on disk, and their retries must land once it commits again.
 */
class StalledOutboxTest {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private HapiNotifier source;
  private final ListAppender<ILoggingEvent> refusals = new ListAppender<>();
  private final Logger rejectionLog =
      (Logger) LoggerFactory.getLogger("org.pathlingrelay.receive.RejectionLogger");

  @BeforeEach
  void start() throws Exception {
    refusals.start();
    rejectionLog.addAppender(refusals);
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    source = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
  }

  @AfterEach
  void stop() {
    rejectionLog.detachAppender(refusals);
    relay.close();
  }

  @Test
  void aCommitThatDoesNotLandInTime_isAnswered503BeforeTheSendersTimeout_andTheRetryLands() throws Exception {
    assertThat(source.put("Patient", "before", 1).status()).isEqualTo(200);

    List<Answer> answers = new ArrayList<>();
    long answeredAfterMillis;
    try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("relay.db"));
        Statement lock = other.createStatement()) {
      lock.execute("BEGIN IMMEDIATE");
      long started = System.nanoTime();
      List<CompletableFuture<Answer>> waiting = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        waiting.add(source.putAsync("Patient", "stalled" + i, 1));
      }
      for (CompletableFuture<Answer> answer : waiting) {
        answers.add(answer.get());
      }
      answeredAfterMillis = (System.nanoTime() - started) / 1_000_000;
      lock.execute("ROLLBACK");
    }

    assertThat(answers).as("no 200 while nothing could be committed").allSatisfy(answer -> {
      assertThat(answer.status()).isEqualTo(503);
      assertThat(answer.headers().firstValue("Retry-After")).hasValue("5");
      assertThat(answer.body()).contains("\"resourceType\":\"OperationOutcome\"").contains("did not commit in time");
    });
    assertThat(answeredAfterMillis).as("answered before HAPI's client gives up at 10 s").isLessThan(10_000);
    assertThat(refusals.list).as("the first of a run of alike refusals logged, the others counted later")
        .filteredOn(event -> event.getFormattedMessage().startsWith("Answered 503 PUT /fhir/Patient/stalled"))
        .hasSize(1);

    for (int i = 0; i < 5; i++) {
      assertThat(source.put("Patient", "stalled" + i, 1).status()).as("the sender's retry").isEqualTo(200);
    }
    await("everything reaches Pathling once")
        .atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
        .until(() -> pathling.ids("Patient").size() == 6 && relay.outbox().stats().pending() == 0);
    assertThat(pathling.ids("Patient"))
        .containsExactlyInAnyOrder("before", "stalled0", "stalled1", "stalled2", "stalled3", "stalled4");
    assertThat(pathling.duplicateIds()).isEmpty();
  }
}
