package org.pathlingrelay.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;

/**
 * When a bulk load ({@code $import}, {@code $import-pnp}) last put a type into Pathling, kept in the
 * counter table: the outbox position then, and the time. After one, Pathling may hold any resource
 * of the type that was queued before, whatever the relay forwarded.
 *
 * @param seq the outbox position at the last load, or -1 when there was none
 * @param atMillis when the last load ended, or -1
 */
record BulkLoadMarks(long seq, long atMillis) {

  static final BulkLoadMarks NONE = new BulkLoadMarks(-1, -1);

  private static final String ALL = "bulk_load";
  /** Set by a check that saw Pathling hold resources of a type ({@code verify --repair}). */
  private static final String SEEN = "seen_in_pathling:";

  /** The counter rows a load of these types (all when empty) sets. */
  static List<String> counterNames(Collection<String> types) {
    return types.isEmpty() ? List.of(ALL) : types.stream().map(type -> ALL + ":" + type).toList();
  }

  /** The counter rows a check that saw Pathling hold these types sets. */
  static List<String> seenNames(Collection<String> types) {
    return types.stream().map(type -> SEEN + type).toList();
  }

  /**
   * The latest load that covered {@code type} (of it alone, or of every type), or the latest
   * check that saw Pathling hold resources of it, whichever is later.
   */
  static BulkLoadMarks of(Connection connection, String type) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT MAX(value), MAX(updated_at) FROM counter WHERE name IN (?, ?, ?)")) {
      select.setString(1, ALL);
      select.setString(2, ALL + ":" + type);
      select.setString(3, SEEN + type);
      try (ResultSet rs = select.executeQuery()) {
        if (!rs.next()) {
          return NONE;
        }
        long seq = rs.getLong(1);
        if (rs.wasNull()) {
          return NONE;
        }
        return new BulkLoadMarks(seq, rs.getLong(2));
      }
    }
  }

  /**
   * Whether Pathling cannot hold the resource a pending delete is for: its last forwarded change
   * was a delete after the last load, or nothing of it was forwarded and the outbox saw it
   * created after the last load. Either way the delete needs no request.
   */
  boolean cannotHold(String forwardedOperation, long forwardedAtMillis, Long createdSeq) {
    if (forwardedOperation != null) {
      return forwardedOperation.equals(Operation.DELETE.name()) && forwardedAtMillis > atMillis;
    }
    return createdSeq != null && createdSeq > seq;
  }
}
