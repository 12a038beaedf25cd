package org.pathlingrelay.outbox;

import java.sql.ResultSet;
import java.sql.SQLException;

/** Reads the outbox's column groups back into values. */
final class Rows {

  private Rows() {}

  /** Reads {@code version_number, last_updated} starting at {@code column}. */
  static VersionStamp stamp(ResultSet rs, int column) throws SQLException {
    long version = rs.getLong(column);
    Long versionNumber = rs.wasNull() ? null : version;
    long lastUpdated = rs.getLong(column + 1);
    Long lastUpdatedMillis = rs.wasNull() ? null : lastUpdated;
    return new VersionStamp(versionNumber, lastUpdatedMillis);
  }

  /**
   * Reads {@code resource_type, resource_id, operation, version_number, last_updated, body}
   * starting at {@code column}.
   */
  static Change change(ResultSet rs, int column) throws SQLException {
    ResourceKey key = new ResourceKey(rs.getString(column), rs.getString(column + 1));
    Operation operation = Operation.valueOf(rs.getString(column + 2));
    VersionStamp stamp = stamp(rs, column + 3);
    byte[] body = rs.getBytes(column + 5);
    return new Change(key, operation, stamp, body == null ? null : ResourceJson.ofUtf8(body));
  }
}
