package org.pathlingrelay.outbox;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/** Numbered schema migrations, applied in order against a version table. */
final class Schema {

  private static final List<List<String>> MIGRATIONS =
      List.of(
          List.of(
              """
              CREATE TABLE pending (
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                first_seq INTEGER NOT NULL,
                operation TEXT NOT NULL CHECK (operation IN ('UPSERT', 'DELETE')),
                version_number INTEGER,
                last_updated INTEGER,
                body TEXT,
                first_received_at INTEGER NOT NULL,
                received_at INTEGER NOT NULL,
                UNIQUE (resource_type, resource_id)
              )""",
              "CREATE INDEX pending_queue ON pending (resource_type, first_seq)",
              """
              CREATE TABLE forwarded (
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                operation TEXT NOT NULL,
                version_number INTEGER,
                last_updated INTEGER,
                forwarded_at INTEGER NOT NULL,
                PRIMARY KEY (resource_type, resource_id)
              ) WITHOUT ROWID""",
              """
              CREATE TABLE dead_letter (
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                operation TEXT NOT NULL,
                version_number INTEGER,
                last_updated INTEGER,
                body TEXT,
                status INTEGER NOT NULL,
                reason TEXT,
                attempts INTEGER NOT NULL,
                first_failed_at INTEGER NOT NULL,
                last_failed_at INTEGER NOT NULL,
                PRIMARY KEY (resource_type, resource_id)
              )""",
              """
              CREATE TABLE counter (
                name TEXT PRIMARY KEY,
                value INTEGER NOT NULL,
                updated_at INTEGER
              )"""),
          // 2: lets a backfill ask whether everything it queued has left the outbox.
          List.of("CREATE INDEX pending_first_seq ON pending (first_seq)"),
          // 3: topic-based subscriptions' event numbers, to notice missed notifications.
          List.of(
              """
              CREATE TABLE subscription_event (
                subscription TEXT PRIMARY KEY,
                last_event INTEGER,
                last_type TEXT NOT NULL,
                last_seen_at INTEGER NOT NULL,
                gaps INTEGER NOT NULL DEFAULT 0
              )"""),
          // 4: the forwarder's backlog scan, answered from this index alone: first_received_at
          // sits after the body in each row, so reading it from the table walks overflow pages.
          List.of(
              "CREATE INDEX pending_queue_age ON pending (resource_type, first_seq, first_received_at)",
              "DROP INDEX pending_queue"),
          // 5: pendingUpTo now counts per type in pending_queue_age; one index fewer to update on
          // every insert and delete, and one page fewer written per commit.
          List.of("DROP INDEX pending_first_seq"),
          // 6: one row per resource, holding both the change waiting to be forwarded (seq and
          // first_seq set; the queue index holds only those rows) and the last version forwarded. Acknowledging then rewrites one row where it used to
          // delete from pending and insert into forwarded: two random B-tree writes fewer per
          // resource, and one lookup instead of two.
          List.of(
              """
              CREATE TABLE resource_state (
                resource_type TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                seq INTEGER,
                first_seq INTEGER,
                operation TEXT CHECK (operation IN ('UPSERT', 'DELETE')),
                version_number INTEGER,
                last_updated INTEGER,
                body TEXT,
                first_received_at INTEGER,
                received_at INTEGER,
                forwarded_operation TEXT,
                forwarded_version_number INTEGER,
                forwarded_last_updated INTEGER,
                forwarded_at INTEGER,
                UNIQUE (resource_type, resource_id)
              )""",
              """
              INSERT INTO resource_state (resource_type, resource_id, forwarded_operation,
                forwarded_version_number, forwarded_last_updated, forwarded_at)
              SELECT resource_type, resource_id, operation, version_number, last_updated, forwarded_at
              FROM forwarded""",
              """
              INSERT INTO resource_state (resource_type, resource_id, seq, first_seq, operation,
                version_number, last_updated, body, first_received_at, received_at)
              SELECT resource_type, resource_id, seq, first_seq, operation, version_number,
                last_updated, body, first_received_at, received_at
              FROM pending WHERE true
              ON CONFLICT (resource_type, resource_id) DO UPDATE SET seq = excluded.seq,
                first_seq = excluded.first_seq, operation = excluded.operation,
                version_number = excluded.version_number, last_updated = excluded.last_updated,
                body = excluded.body, first_received_at = excluded.first_received_at,
                received_at = excluded.received_at""",
              "DROP TABLE pending",
              "DROP TABLE forwarded",
              """
              CREATE INDEX resource_queue ON resource_state (resource_type, first_seq, first_received_at)
              WHERE first_seq IS NOT NULL"""),
          // 7: where the outbox saw a resource created (version 1) before anything of it was
          // forwarded: a delete of it then needs no request, Pathling cannot hold it.
          List.of("ALTER TABLE resource_state ADD COLUMN created_seq INTEGER"),
          // 8: topic subscriptions' event numbers still missing below the highest seen: the source
          // may deliver them out of order, so each is awaited for a while before it counts as missed.
          List.of(
              """
              CREATE TABLE subscription_hole (
                subscription TEXT NOT NULL,
                event_number INTEGER NOT NULL,
                missed_at INTEGER NOT NULL,
                PRIMARY KEY (subscription, event_number)
              ) WITHOUT ROWID"""));

  private Schema() {}

  static void migrate(Connection connection) throws SQLException {
    migrate(connection, MIGRATIONS.size());
  }

  /** Migrates up to {@code target} only: lets tests build an outbox as an older relay left it. */
  static void migrate(Connection connection, int target) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      int current = 0;
      try (ResultSet rs = statement.executeQuery("SELECT MAX(version) FROM schema_version")) {
        if (rs.next()) {
          current = rs.getInt(1);
        }
      }
      if (current > MIGRATIONS.size()) {
        throw new SQLException(
            "the outbox was written by a newer relay (schema " + current + "); refusing to open it");
      }
      for (int version = current + 1; version <= target; version++) {
        for (String sql : MIGRATIONS.get(version - 1)) {
          statement.execute(sql);
        }
        statement.execute("INSERT INTO schema_version (version) VALUES (" + version + ")");
      }
    }
  }
}
