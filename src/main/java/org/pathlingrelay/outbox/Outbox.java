package org.pathlingrelay.outbox;

import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.InstantSource;

/**
 * The open outbox, as the wiring holds it: it opens and closes the file and hands each part the
 * role it uses. Parts depend on the roles, never on this handle.
 */
public interface Outbox
    extends NotificationIntake, DeliveryQueue, DeliveryProgress, OutboxStatus, DeadLetters, AutoCloseable {

  /**
   * Tuning that has sensible defaults; the wiring may change it. {@code eventReorderWindow}: how
   * long a topic subscription's missing event number is waited for (it may arrive out of order)
   * before it counts as missed; HAPI retries a delivery for about a minute.
   */
  record Settings(int queueCapacity, int maxGroup, Duration eventReorderWindow) {
    public static final Duration DEFAULT_EVENT_REORDER_WINDOW = Duration.ofSeconds(60);
    public static final Settings DEFAULTS = new Settings(20_000, 2_000);

    public Settings(int queueCapacity, int maxGroup) {
      this(queueCapacity, maxGroup, DEFAULT_EVENT_REORDER_WINDOW);
    }
  }

  /** Opens (creating if need be) the outbox file. */
  static Outbox open(Path file, InstantSource clock) throws SQLException {
    return open(file, clock, Settings.DEFAULTS);
  }

  static Outbox open(Path file, InstantSource clock, Settings settings) throws SQLException {
    return SqliteOutbox.open(file, clock, settings);
  }

  /**
   * Called once after each durable commit (appends, acknowledgements, dead-letter replays), e.g.
   * to wake the forwarder; listeners run on the writer thread, so they must be quick.
   */
  void onCommit(Runnable listener);
}
