package org.pathlingrelay.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Topic subscriptions' event numbers as a real HAPI delivers them: numbered in order, delivered on
 * several threads (so out of order) and retried for about a minute. On a real SQLite file, with a
 * clock the test moves.
 */
class TopicEventOrderTest {

  private static final String SUBSCRIPTION = "Subscription/topic-1";
  private static final Duration WINDOW = Outbox.Settings.DEFAULT_EVENT_REORDER_WINDOW;

  @TempDir Path dir;
  private final MovableClock clock = new MovableClock();
  private Outbox outbox;

  /** Starts at a fixed instant and moves only when the test says so. */
  private static final class MovableClock implements InstantSource {
    private volatile Instant now = Instant.parse("2026-11-22T17:42:04Z");

    @Override
    public Instant instant() {
      return now;
    }

    void pass(Duration duration) {
      now = now.plus(duration);
    }
  }

  @BeforeEach
  void open() throws Exception {
    outbox = Outbox.open(dir.resolve("relay.db"), clock);
  }

  @AfterEach
  void close() throws Exception {
    outbox.close();
  }

  /** An event notification carrying these event numbers, counting as HAPI does. */
  private boolean events(long... numbers) {
    long count = Arrays.stream(numbers).max().orElseThrow();
    return outbox.recordSubscriptionEvent(new SubscriptionEvent(
        SUBSCRIPTION, "event-notification", Arrays.stream(numbers).boxed().toList(), OptionalLong.of(count))).join();
  }

  private boolean heartbeat(long eventsSinceStart) {
    return outbox.recordSubscriptionEvent(new SubscriptionEvent(
        SUBSCRIPTION, "heartbeat", List.of(), OptionalLong.of(eventsSinceStart))).join();
  }

  private List<MissedEvents> windowChecked() {
    return outbox.closeExpiredEventHoles().join();
  }

  private SubscriptionState state() {
    return outbox.subscriptions().stream().filter(s -> s.subscription().equals(SUBSCRIPTION)).findFirst().orElseThrow();
  }

  private long pings() {
    return outbox.stats().pings();
  }

  @Test
  void twoThenOneThenThree_isNoGap_notNowAndNotAfterTheWindow() {
    assertThat(events(2)).isFalse();
    assertThat(events(1)).isFalse();
    assertThat(events(3)).isFalse();
    clock.pass(WINDOW.multipliedBy(2));
    assertThat(windowChecked()).isEmpty();
    assertThat(state().gaps()).isZero();
    assertThat(state().lastEventNumber()).isEqualTo(3L);
    assertThat(state().awaitedEvents()).isZero();
    assertThat(pings()).isZero();
  }

  @Test
  void oneThenThree_thenTwoWithinTheWindow_isNoGap() {
    events(1);
    assertThat(events(3)).as("2 may still come").isFalse();
    assertThat(state().awaitedEvents()).isEqualTo(1);
    clock.pass(WINDOW.minusSeconds(1));
    assertThat(windowChecked()).isEmpty();
    assertThat(events(2)).isFalse();
    clock.pass(WINDOW);
    assertThat(windowChecked()).isEmpty();
    assertThat(state().gaps()).isZero();
    assertThat(state().awaitedEvents()).isZero();
    assertThat(pings()).isZero();
  }

  @Test
  void oneThenThree_andNothingElse_isExactlyOneGap_atTheWindowsEnd_andOnePing() {
    events(1);
    events(3);
    clock.pass(WINDOW.minusMillis(1));
    assertThat(windowChecked()).as("a millisecond before the window ends").isEmpty();
    assertThat(pings()).isZero();

    clock.pass(Duration.ofMillis(1));
    assertThat(windowChecked()).containsExactly(new MissedEvents(SUBSCRIPTION, 2, 2));
    assertThat(state().gaps()).isEqualTo(1);
    assertThat(state().awaitedEvents()).isZero();
    assertThat(pings()).as("what asks for a catch-up").isEqualTo(1);

    clock.pass(WINDOW);
    assertThat(windowChecked()).as("once per hole").isEmpty();
    assertThat(events(4)).isFalse();
    assertThat(state().gaps()).isEqualTo(1);
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void aStretchOfMissingNumbers_isOneGap_andTwoWhenOneInTheMiddleArrives() {
    events(1);
    events(5);
    clock.pass(WINDOW);
    assertThat(windowChecked()).containsExactly(new MissedEvents(SUBSCRIPTION, 2, 4));

    events(6);
    events(10);
    events(8);
    clock.pass(WINDOW);
    assertThat(windowChecked())
        .containsExactly(new MissedEvents(SUBSCRIPTION, 7, 7), new MissedEvents(SUBSCRIPTION, 9, 9));
    assertThat(state().gaps()).isEqualTo(3);
    assertThat(pings()).isEqualTo(3);
  }

  @Test
  void aRedeliveryOfTwo_isNoGapAndNoReset() {
    events(1);
    events(2);
    events(3);
    assertThat(events(2)).as("HAPI retried it").isFalse();
    assertThat(state().lastEventNumber()).as("not a reset").isEqualTo(3L);
    assertThat(events(4)).isFalse();
    clock.pass(WINDOW);
    assertThat(windowChecked()).isEmpty();
    assertThat(state().gaps()).isZero();
    assertThat(pings()).isZero();
  }

  @Test
  void aCounterThatStartsAgainFarBelow_isAReset_atOnce() {
    events(499);
    events(500);
    assertThat(events(1)).as("the source restarted its counter").isTrue();
    assertThat(state().lastEventNumber()).isEqualTo(1L);
    assertThat(state().gaps()).isEqualTo(1);
    assertThat(pings()).isEqualTo(1);
    assertThat(events(2)).as("counting on from the new start").isFalse();
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void aHeartbeatCountFarBelow_isAReset() {
    heartbeat(500);
    assertThat(heartbeat(500)).isFalse();
    assertThat(heartbeat(1)).isTrue();
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void aLowCounterAfterASilenceLongerThanRetriesLast_isAReset_andTheOldHolesAreForgotten() {
    events(7);
    events(10);
    clock.pass(WINDOW.minusSeconds(1));
    assertThat(events(8)).isFalse();
    clock.pass(WINDOW.plusSeconds(1));
    // 9 is still open (no check ran since), but an old number after such a silence is no retry.
    assertThat(events(1)).isTrue();
    assertThat(state().lastEventNumber()).isEqualTo(1L);
    assertThat(state().awaitedEvents()).isZero();
    assertThat(windowChecked()).as("the reset's catch-up covers 9").isEmpty();
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void aJumpBeyondWhatIsAwaited_isAGapAtOnce() {
    events(1);
    assertThat(events(2 + EventNumbering.MAX_HOLES)).isFalse();
    assertThat(state().awaitedEvents()).isEqualTo(EventNumbering.MAX_HOLES);
    assertThat(events(4 + EventNumbering.MAX_HOLES)).as("one more hole than kept").isTrue();
    assertThat(state().awaitedEvents()).isEqualTo(EventNumbering.MAX_HOLES);
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void aHeartbeatCountingMoreThanTheHighest_isAGapAtOnce_andTheHolesBelowKeepTheirWindow() {
    events(1);
    events(3);
    assertThat(heartbeat(5)).as("4 and 5 never came").isTrue();
    assertThat(state().lastEventNumber()).isEqualTo(5L);
    assertThat(state().awaitedEvents()).as("2 is still awaited").isEqualTo(1);
    assertThat(events(2)).isFalse();
    assertThat(heartbeat(5)).isFalse();
    clock.pass(WINDOW);
    assertThat(windowChecked()).isEmpty();
    assertThat(state().gaps()).isEqualTo(1);
    assertThat(pings()).isEqualTo(1);
  }

  @Test
  void eventNumbersInOneNotification_fillTheirHolesTogether() {
    events(1);
    events(4);
    assertThat(events(2, 3)).isFalse();
    clock.pass(WINDOW);
    assertThat(windowChecked()).isEmpty();
    assertThat(state().gaps()).isZero();
  }

  @Test
  void theAwaitedNumbersSurviveARestart() throws Exception {
    events(1);
    events(3);
    events(6);
    outbox.close();
    outbox = Outbox.open(dir.resolve("relay.db"), clock);
    assertThat(state().awaitedEvents()).isEqualTo(3);
    assertThat(events(2)).isFalse();
    clock.pass(WINDOW);
    assertThat(windowChecked()).containsExactly(new MissedEvents(SUBSCRIPTION, 4, 5));
  }

  @Test
  void anOutboxOfSchema7_keepsItsSubscriptions_andAwaitsNumbersFromNowOn() throws Exception {
    outbox.close();
    Path old = dir.resolve("schema-7.db");
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + old);
        Statement sql = connection.createStatement()) {
      Schema.migrate(connection, 7);
      sql.execute("INSERT INTO subscription_event VALUES ('" + SUBSCRIPTION + "', 41, 'event-notification', "
          + clock.millis() + ", 2)");
    }
    outbox = Outbox.open(old, clock);
    assertThat(events(43)).isFalse();
    assertThat(events(42)).isFalse();
    assertThat(state().lastEventNumber()).isEqualTo(43L);
    assertThat(state().gaps()).as("the old relay's count").isEqualTo(2);
  }
}
