package org.pathlingrelay.verify;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.List;

/**
 * Both sides' listings of one type at a time, in a temporary SQLite file, compared with SQL: the
 * heap holds one page of a listing, never all ids, whatever the size of the type. The file is
 * scratch (no journal, no sync) and is deleted on close.
 */
final class ComparisonStore implements AutoCloseable {

  /** SQLite's page cache, in KiB (a negative cache_size): native memory, bounded. */
  private static final int CACHE_KIB = 64 * 1024;

  /** Pathling's row holds an older version: by number where both have one, else by lastUpdated. */
  private static final String OLDER =
      "(s.version IS NOT NULL AND p.version IS NOT NULL AND p.version < s.version)"
          + " OR ((s.version IS NULL OR p.version IS NULL) AND s.updated IS NOT NULL AND p.updated IS NOT NULL"
          + " AND p.updated < s.updated)";

  private final Path file;
  private final Connection connection;

  private ComparisonStore(Path file, Connection connection) {
    this.file = file;
    this.connection = connection;
  }

  /** A new store in a temporary file under {@code dir}. */
  static ComparisonStore create(Path dir) throws IOException, SQLException {
    Files.createDirectories(dir);
    Path file = Files.createTempFile(dir, "verify-", ".db");
    Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file);
    try (Statement statement = connection.createStatement()) {
      statement.execute("PRAGMA journal_mode = OFF");
      statement.execute("PRAGMA synchronous = OFF");
      statement.execute("PRAGMA temp_store = FILE");
      statement.execute("PRAGMA cache_size = -" + CACHE_KIB);
    }
    connection.setAutoCommit(false);
    return new ComparisonStore(file, connection);
  }

  /** Empties both sides, for the next type. */
  void clear() throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("DROP TABLE IF EXISTS source_row");
      statement.execute("DROP TABLE IF EXISTS pathling_row");
      // The source's listing may repeat an id when a page boundary moves under a write: one row each.
      statement.execute("CREATE TABLE source_row (id TEXT PRIMARY KEY, version INTEGER, updated INTEGER)"
          + " WITHOUT ROWID");
      // Pathling's rows as listed, repeats kept: they are the duplicates. Indexed once loaded.
      statement.execute("CREATE TABLE pathling_row (id TEXT NOT NULL, version INTEGER, updated INTEGER)");
    }
    connection.commit();
  }

  void addSource(List<ListedRow> rows) throws SQLException {
    insert("INSERT OR REPLACE INTO source_row (id, version, updated) VALUES (?, ?, ?)", rows);
  }

  void addPathling(List<ListedRow> rows) throws SQLException {
    insert("INSERT INTO pathling_row (id, version, updated) VALUES (?, ?, ?)", rows);
  }

  private void insert(String sql, List<ListedRow> rows) throws SQLException {
    try (PreparedStatement insert = connection.prepareStatement(sql)) {
      for (ListedRow row : rows) {
        insert.setString(1, row.id());
        setNullable(insert, 2, row.version());
        setNullable(insert, 3, row.lastUpdatedMillis());
        insert.addBatch();
      }
      insert.executeBatch();
    }
    connection.commit();
  }

  /** The counts of both sides and every difference, each handed to {@code sink} as it is read. */
  Tally compare(String type, Differences sink) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute("CREATE INDEX pathling_row_id ON pathling_row (id)");
    }
    connection.commit();
    long sourceRows = single("SELECT COUNT(*) FROM source_row");
    long pathlingRows = single("SELECT COUNT(*) FROM pathling_row");
    long missing = stream(type, DifferenceKind.MISSING, sink,
        "SELECT s.id FROM source_row s WHERE NOT EXISTS (SELECT 1 FROM pathling_row p WHERE p.id = s.id)"
            + " ORDER BY s.id");
    long stale = stream(type, DifferenceKind.STALE, sink,
        "SELECT s.id FROM source_row s JOIN (SELECT id, MAX(version) AS version, MAX(updated) AS updated"
            + " FROM pathling_row GROUP BY id) p ON p.id = s.id WHERE " + OLDER + " ORDER BY s.id");
    long extra = stream(type, DifferenceKind.EXTRA, sink,
        "SELECT DISTINCT p.id FROM pathling_row p WHERE NOT EXISTS (SELECT 1 FROM source_row s WHERE s.id = p.id)"
            + " ORDER BY p.id");
    long duplicated = stream(type, DifferenceKind.DUPLICATED, sink,
        "SELECT id FROM pathling_row GROUP BY id HAVING COUNT(*) > 1 ORDER BY id");
    return new Tally(sourceRows, pathlingRows, missing, stale, extra, duplicated);
  }

  /** What one type's comparison counted; Pathling's rows as listed, repeats included. */
  record Tally(long sourceIds, long pathlingRows, long missing, long stale, long extra, long duplicated) {}

  private long stream(String type, DifferenceKind kind, Differences sink, String sql) throws SQLException {
    long found = 0;
    try (PreparedStatement select = connection.prepareStatement(sql);
        ResultSet rs = select.executeQuery()) {
      while (rs.next()) {
        sink.found(type, kind, rs.getString(1));
        found++;
      }
    }
    return found;
  }

  private long single(String sql) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(sql);
        ResultSet rs = select.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static void setNullable(PreparedStatement statement, int index, Long value) throws SQLException {
    if (value == null) {
      statement.setNull(index, Types.INTEGER);
    } else {
      statement.setLong(index, value);
    }
  }

  @Override
  public void close() throws SQLException, IOException {
    try {
      connection.close();
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
