package org.pathlingrelay.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Topic subscriptions' event numbers in the outbox (schema 3 and 8): the highest seen per
 * subscription, and the numbers still missing below it with when they were first missed. Judging
 * the numbers is {@link EventNumbering}'s job; this stores what it decides. Runs on the writer.
 */
final class SubscriptionTracks {

  private final Connection connection;
  private final EventNumbering numbering;
  private final long windowMillis;

  /** {@code reorderWindow}: how long a missing number is waited for before it counts as missed. */
  SubscriptionTracks(Connection connection, Duration reorderWindow) {
    this.connection = connection;
    this.numbering = new EventNumbering(reorderWindow);
    this.windowMillis = reorderWindow.toMillis();
  }

  /** Records the notification; the number of gaps it shows at once. */
  int record(SubscriptionEvent event, long nowMillis) throws SQLException {
    EventNumbering.Verdict verdict = numbering.judge(known(event.subscription()), event, nowMillis);
    if (verdict.reset()) {
      try (PreparedStatement delete =
          connection.prepareStatement("DELETE FROM subscription_hole WHERE subscription = ?")) {
        delete.setString(1, event.subscription());
        delete.executeUpdate();
      }
    }
    try (PreparedStatement delete = connection.prepareStatement(
        "DELETE FROM subscription_hole WHERE subscription = ? AND event_number = ?")) {
      for (long filled : verdict.filled()) {
        delete.setString(1, event.subscription());
        delete.setLong(2, filled);
        delete.addBatch();
      }
      delete.executeBatch();
    }
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT INTO subscription_hole (subscription, event_number, missed_at) VALUES (?, ?, ?)")) {
      for (long opened : verdict.opened()) {
        insert.setString(1, event.subscription());
        insert.setLong(2, opened);
        insert.setLong(3, nowMillis);
        insert.addBatch();
      }
      insert.executeBatch();
    }
    try (PreparedStatement upsert = connection.prepareStatement(
        "INSERT INTO subscription_event (subscription, last_event, last_type, last_seen_at, gaps)"
            + " VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscription) DO UPDATE SET"
            + " last_event = excluded.last_event, last_type = excluded.last_type,"
            + " last_seen_at = excluded.last_seen_at, gaps = subscription_event.gaps + excluded.gaps")) {
      upsert.setString(1, event.subscription());
      if (verdict.highest() == null) {
        upsert.setNull(2, Types.INTEGER);
      } else {
        upsert.setLong(2, verdict.highest());
      }
      upsert.setString(3, event.type());
      upsert.setLong(4, nowMillis);
      upsert.setLong(5, verdict.gaps());
      upsert.executeUpdate();
    }
    return verdict.gaps();
  }

  private EventNumbering.Known known(String subscription) throws SQLException {
    Long highest;
    Long lastSeenAt;
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT last_event, last_seen_at FROM subscription_event WHERE subscription = ?")) {
      select.setString(1, subscription);
      try (ResultSet rs = select.executeQuery()) {
        if (!rs.next()) {
          return EventNumbering.Known.NOTHING;
        }
        long value = rs.getLong(1);
        highest = rs.wasNull() ? null : value;
        lastSeenAt = rs.getLong(2);
      }
    }
    Set<Long> holes = new HashSet<>();
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT event_number FROM subscription_hole WHERE subscription = ?")) {
      select.setString(1, subscription);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          holes.add(rs.getLong(1));
        }
      }
    }
    return new EventNumbering.Known(highest, holes, lastSeenAt);
  }

  /**
   * Gives up on the holes missed a whole window ago or longer: each run of consecutive numbers
   * among them counts as one gap of its subscription, as a skipped stretch did when it arrived.
   */
  List<MissedEvents> closeExpiredHoles(long nowMillis) throws SQLException {
    long missedUpTo = nowMillis - windowMillis;
    Map<String, List<Long>> expired = new LinkedHashMap<>();
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT subscription, event_number FROM subscription_hole WHERE missed_at <= ?"
            + " ORDER BY subscription, event_number")) {
      select.setLong(1, missedUpTo);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          expired.computeIfAbsent(rs.getString(1), s -> new ArrayList<>()).add(rs.getLong(2));
        }
      }
    }
    if (expired.isEmpty()) {
      return List.of();
    }
    List<MissedEvents> missed = new ArrayList<>();
    expired.forEach((subscription, numbers) -> {
      long first = numbers.get(0);
      for (int i = 1; i <= numbers.size(); i++) {
        if (i == numbers.size() || numbers.get(i) != numbers.get(i - 1) + 1) {
          missed.add(new MissedEvents(subscription, first, numbers.get(i - 1)));
          if (i < numbers.size()) {
            first = numbers.get(i);
          }
        }
      }
    });
    try (PreparedStatement delete =
        connection.prepareStatement("DELETE FROM subscription_hole WHERE missed_at <= ?")) {
      delete.setLong(1, missedUpTo);
      delete.executeUpdate();
    }
    try (PreparedStatement gaps = connection.prepareStatement(
        "UPDATE subscription_event SET gaps = gaps + 1 WHERE subscription = ?")) {
      for (MissedEvents run : missed) {
        gaps.setString(1, run.subscription());
        gaps.addBatch();
      }
      gaps.executeBatch();
    }
    return missed;
  }
}
