package org.pathlingrelay.outbox;

import java.nio.file.Path;
import java.sql.SQLException;
import java.time.InstantSource;

/**
 * The open outbox, as the wiring holds it: it opens and closes the file and hands each part the
 * role it uses. Parts depend on the roles, never on this handle.
 */
public interface Outbox
    extends NotificationIntake, DeliveryQueue, DeliveryProgress, OutboxStatus, DeadLetters, AutoCloseable {

  /** Tuning that has sensible defaults; the wiring may change it. */
  record Settings(int queueCapacity, int maxGroup) {
    public static final Settings DEFAULTS = new Settings(20_000, 2_000);
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
