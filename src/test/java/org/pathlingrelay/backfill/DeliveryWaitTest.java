package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * A backfill waiting for its changes to reach Pathling, on a fake clock: each pause of the wait
 * moves the clock on, so minutes of waiting take no time.
 */
class DeliveryWaitTest {

  private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  @TempDir Path dir;
  private Outbox outbox;
  private final AtomicReference<Instant> now = new AtomicReference<>(START);
  private final InstantSource clock = now::get;
  private final List<Instant> stallReports = new ArrayList<>();
  private final List<String> stallProblems = new ArrayList<>();
  private final BackfillProgress progress = new BackfillProgress() {
    @Override
    public void forwardingStalled(String problem) {
      stallReports.add(now.get());
      stallProblems.add(problem);
    }
  };
  /** What happens at each pause besides time passing (a delivery, a failure). */
  private Runnable duringPause = () -> {};
  private final Pause pause = duration -> {
    now.set(now.get().plus(duration));
    duringPause.run();
  };

  @BeforeEach
  void open() throws Exception {
    outbox = Outbox.open(dir.resolve("relay.db"), clock);
  }

  @AfterEach
  void close() throws Exception {
    outbox.close();
  }

  private long queue(int count) {
    List<Change> changes = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      changes.add(Change.upsert(new ResourceKey("Patient", "p" + i), new VersionStamp(1L, null), "{\"resourceType\":\"Patient\",\"id\":\"p" + i + "\"}"));
    }
    outbox.append(changes).join();
    return outbox.lastSeq();
  }

  private DeliveryWait waitFor(Duration stallTimeout, ForwardingTrouble trouble) {
    return new DeliveryWait(outbox, pause, progress, new DeliveryWatch(stallTimeout, trouble, clock));
  }

  @Test
  void await_whilePathlingRefusesConnections_saysWhyAtOnce_thenEvery30s_andGivesUpAfterTheStallTimeout() {
    long upTo = queue(3);
    ForwardingTrouble trouble = ForwardingTrouble.pathlingAt("http://127.0.0.1:9/fhir", clock);
    duringPause = () -> trouble.accept(new RuntimeException(
        "Pathling did not answer the batch of 3 Patient: Connect to 127.0.0.1:9 failed: Connection refused",
        new ConnectException("Connection refused")));
    trouble.accept(new RuntimeException("Connect to 127.0.0.1:9 failed: Connection refused"));

    assertThatThrownBy(() -> waitFor(Duration.ofMinutes(2), trouble).await(upTo))
        .isInstanceOf(ForwardingStalledException.class)
        .hasMessageContaining("no change reached Pathling for 2m")
        .hasMessageContaining("Pathling at http://127.0.0.1:9/fhir is not taking changes")
        .hasMessageContaining("Connection refused")
        .satisfies(e -> assertThat(((ForwardingStalledException) e).pending()).isEqualTo(3));

    assertThat(stallReports).as("at once, then every 30 s, not at every poll").containsExactly(
        START, START.plusSeconds(30), START.plusSeconds(60), START.plusSeconds(90));
    assertThat(stallProblems).allSatisfy(problem -> assertThat(problem).contains("127.0.0.1:9").contains("Connection refused"));
    assertThat(now.get()).isEqualTo(START.plus(Duration.ofMinutes(2)));
    assertThat(outbox.pendingUpTo(upTo)).as("what was queued stays for the next run").isEqualTo(3);
  }

  @Test
  void await_whileChangesGetThrough_neverGivesUp_evenPastTheStallTimeout() throws Exception {
    long upTo = queue(3);
    // One change delivered every 50 s: slow, but moving; the whole wait lasts 150 s > 1 min.
    duringPause = () -> {
      if (Duration.between(START, now.get()).toMillis() % 50_000 == 0) {
        outbox.acknowledge(outbox.oldest("Patient", 1));
      }
    };

    long forwarded = waitFor(Duration.ofMinutes(1), ForwardingTrouble.pathlingAt("http://pathling/fhir", clock)).await(upTo);

    assertThat(forwarded).isEqualTo(3);
    assertThat(outbox.pendingUpTo(upTo)).isZero();
    assertThat(now.get()).isEqualTo(START.plusSeconds(150));
  }

  @Test
  void await_withoutAKnownCause_saysNothingHasBeenForwarded_after30s() {
    long upTo = queue(1);
    ForwardingTrouble elsewhere = ForwardingTrouble.otherProcess("/data", clock);

    assertThatThrownBy(() -> waitFor(Duration.ofMinutes(1), elsewhere).await(upTo))
        .isInstanceOf(ForwardingStalledException.class)
        .hasMessageContaining("the relay forwarding from /data");

    assertThat(stallReports).containsExactly(START.plusSeconds(30));
    assertThat(stallProblems).singleElement().asString()
        .contains("nothing has been forwarded for 30s by the relay forwarding from /data");
  }
}
