package org.pathlingrelay.outbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import org.sqlite.SQLiteConfig;

/**
 * The outbox: a SQLite file in WAL mode with {@code synchronous=FULL}, so a commit that returned
 * is on disk. Writes go through one {@link GroupCommitter}; reads use their own connection, which
 * WAL lets run beside the writer.
 */
final class SqliteOutbox implements Outbox {

  /**
   * Rows with a change queued, in the words of the queue index's own condition (schema 6):
   * SQLite reads a partial index only for a query whose WHERE clause implies that condition.
   */
  private static final String QUEUED = "first_seq IS NOT NULL";

  private final Connection writeConnection;
  private final Connection readConnection;
  private final String url;
  private final WriteSide writeSide;
  private final GroupCommitter committer;
  private final List<Runnable> commitListeners;
  /**
   * Where the queue stood when this process opened the outbox: a creation queued before may have
   * been on its way to Pathling when an earlier process died, so Pathling may hold it.
   */
  private final long openedAtSeq;
  private final InstantSource clock;
  private final Duration eventReorderWindow;
  /** Resources whose upserts this process handed to a request: Pathling may hold them. */
  private final Set<ResourceKey> sent = ConcurrentHashMap.newKeySet();

  private SqliteOutbox(
      String url,
      Connection writeConnection,
      Connection readConnection,
      WriteSide writeSide,
      GroupCommitter committer,
      List<Runnable> commitListeners,
      InstantSource clock,
      Duration eventReorderWindow) {
    this.url = url;
    this.writeConnection = writeConnection;
    this.readConnection = readConnection;
    this.writeSide = writeSide;
    this.committer = committer;
    this.commitListeners = commitListeners;
    this.clock = clock;
    this.eventReorderWindow = eventReorderWindow;
    this.openedAtSeq = lastSeq();
  }

  static SqliteOutbox open(Path file, InstantSource clock, Settings settings) throws SQLException {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
    } catch (IOException e) {
      throw new SQLException("cannot create the data directory for " + file + ": " + e, e);
    }
    String url = "jdbc:sqlite:" + file.toAbsolutePath();
    if (isNew(file)) {
      create(url);
    }
    Connection writer = config().createConnection(url);
    try {
      // Autocommit stays on: the committer issues BEGIN IMMEDIATE / COMMIT itself, so the write
      // lock is held only while a group is being written, and other processes can write between.
      try (var statement = writer.createStatement()) {
        // Checkpoint every 4,000 pages of WAL (64 MiB with a new file's 16 KiB pages, 16 MiB with
        // 4 KiB) instead of 1,000: queue pages are written, rewritten and freed within seconds, and
        // each checkpoint copies a page to the database file only once however often it changed
        // since the last one. Durability is the WAL's fsync either way.
        statement.execute("PRAGMA wal_autocheckpoint = 4000");
        statement.execute("BEGIN IMMEDIATE");
        Schema.migrate(writer);
        statement.execute("COMMIT");
      }
      Connection reader = config().createConnection(url);
      WriteSide side = new WriteSide(writer, settings.eventReorderWindow());
      List<Runnable> listeners = new CopyOnWriteArrayList<>();
      GroupCommitter committer = new GroupCommitter(writer, side, clock, settings.queueCapacity(),
          settings.maxGroup(), () -> listeners.forEach(Runnable::run));
      return new SqliteOutbox(url, writer, reader, side, committer, listeners, clock, settings.eventReorderWindow());
    } catch (SQLException | RuntimeException e) {
      writer.close();
      throw e;
    }
  }

  /** Pages of a new outbox file. SQLite's default is 4 KiB. */
  static final int PAGE_SIZE = 16 * 1024;

  /** Absent, or left empty by a process that stopped before writing to it. */
  private static boolean isNew(Path file) throws SQLException {
    try {
      return !Files.exists(file) || Files.size(file) == 0;
    } catch (IOException e) {
      throw new SQLException("cannot read the size of " + file + ": " + e, e);
    }
  }

  /**
   * Creates the file with {@link #PAGE_SIZE} pages: fewer WAL frames per commit (two writes each),
   * and most resources fit in one page instead of spilling into overflow pages. The size is fixed
   * once the file is in WAL mode, so it must be set first; an existing outbox keeps its pages (a
   * VACUUM outside WAL mode would change them). Two processes creating the file at once is
   * harmless: the second one's page size is ignored.
   */
  private static void create(String url) throws SQLException {
    try (Connection fresh = DriverManager.getConnection(url);
        var statement = fresh.createStatement()) {
      statement.execute("PRAGMA page_size = " + PAGE_SIZE);
      statement.execute("PRAGMA journal_mode = WAL");
    }
  }

  private static SQLiteConfig config() {
    SQLiteConfig config = new SQLiteConfig();
    config.setJournalMode(SQLiteConfig.JournalMode.WAL);
    // FULL makes every WAL commit fsync: what we acknowledge survives a power cut, not just a crash.
    config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
    config.setBusyTimeout(10_000);
    // 16 MiB of pages per connection instead of SQLite's 2 MiB: the indexes of a backfill's
    // hundreds of thousands of rows then stay in memory rather than being read again per lookup.
    config.setCacheSize(-16 * 1024);
    // Nothing reads generated keys; without this the driver runs a regular expression over the
    // SQL of every update to find out whether it should fetch them.
    config.setGetGeneratedKeys(false);
    return config;
  }

  // ---- notification intake ----

  @Override
  public CompletableFuture<List<Disposition>> append(List<Change> changes) {
    return append(changes, true);
  }

  @Override
  public CompletableFuture<List<Disposition>> resend(List<Change> changes) {
    return append(changes, false);
  }

  private CompletableFuture<List<Disposition>> append(List<Change> changes, boolean guardForwarded) {
    List<Change> copy = List.copyOf(changes);
    CompletableFuture<List<Disposition>> stored = committer.submit(
        (side, now) -> {
          List<Disposition> dispositions = side.appendAll(copy, now, guardForwarded);
          long stale = dispositions.stream().filter(d -> d == Disposition.STALE).count();
          if (stale > 0) {
            side.addToCounter("stale_drops", stale, now);
          }
          return dispositions;
        });
    return stored;
  }

  @Override
  public void onCommit(Runnable listener) {
    commitListeners.add(listener);
  }

  @Override
  public CompletableFuture<Void> recordBulkLoad(Collection<String> types) {
    return committer.submit(
        (side, now) -> {
          side.markBulkLoad(types, false, now);
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> recordSeenInPathling(Collection<String> types) {
    return committer.submit(
        (side, now) -> {
          side.markSeenInPathling(types, now);
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> recordBulkLoadStarting(Collection<String> types) {
    return committer.submit(
        (side, now) -> {
          side.markBulkLoad(types, true, now);
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> recordPing() {
    return committer.submit(
        (side, now) -> {
          side.addToCounter("pings", 1, now);
          return null;
        });
  }

  @Override
  public CompletableFuture<Boolean> recordSubscriptionEvent(SubscriptionEvent event) {
    return committer.submit(
        (side, now) -> {
          int gaps = side.recordSubscriptionEvent(event, now);
          if (gaps > 0) {
            side.addToCounter("pings", gaps, now);
          }
          return gaps > 0;
        });
  }

  /** Asks the writer only when a hole is due: the timer asks every second, mostly for nothing. */
  @Override
  public CompletableFuture<List<MissedEvents>> closeExpiredEventHoles() {
    if (!anEventHoleIsDue()) {
      return CompletableFuture.completedFuture(List.of());
    }
    return committer.submit(
        (side, now) -> {
          List<MissedEvents> missed = side.closeExpiredEventHoles(now);
          if (!missed.isEmpty()) {
            side.addToCounter("pings", missed.size(), now);
          }
          return missed;
        });
  }

  private synchronized boolean anEventHoleIsDue() {
    try (PreparedStatement statement = readConnection.prepareStatement(
        "SELECT 1 FROM subscription_hole WHERE missed_at <= ? LIMIT 1")) {
      statement.setLong(1, clock.millis() - eventReorderWindow.toMillis());
      try (ResultSet rs = statement.executeQuery()) {
        return rs.next();
      }
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  @Override
  public synchronized List<SubscriptionState> subscriptions() {
    List<SubscriptionState> states = new ArrayList<>();
    try (PreparedStatement statement = readConnection.prepareStatement(
            "SELECT subscription, last_event, last_type, last_seen_at, gaps,"
                + " (SELECT COUNT(*) FROM subscription_hole h WHERE h.subscription = e.subscription)"
                + " FROM subscription_event e ORDER BY subscription");
        ResultSet rs = statement.executeQuery()) {
      while (rs.next()) {
        long last = rs.getLong(2);
        Long lastEvent = rs.wasNull() ? null : last;
        states.add(new SubscriptionState(rs.getString(1), lastEvent, rs.getString(3),
            Instant.ofEpochMilli(rs.getLong(4)), rs.getLong(5), rs.getLong(6)));
      }
      return states;
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  /**
   * Found by seeking in the (resource_type, resource_id) index one type after another: the cost
   * grows with the number of types, not with the number of rows.
   */
  @Override
  public synchronized List<String> types() {
    List<String> types = new ArrayList<>();
    try (PreparedStatement nextType = readConnection.prepareStatement(
        "SELECT resource_type FROM resource_state WHERE resource_type > ? ORDER BY resource_type LIMIT 1")) {
      String type = "";
      while (true) {
        nextType.setString(1, type);
        try (ResultSet rs = nextType.executeQuery()) {
          if (!rs.next()) {
            return types;
          }
          type = rs.getString(1);
          types.add(type);
        }
      }
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  // ---- delivery queue and progress ----

  @Override
  public synchronized List<TypeBacklog> backlog(int countUpTo) {
    List<TypeBacklog> backlog = new ArrayList<>();
    try (PreparedStatement count = readConnection.prepareStatement(
            "SELECT COUNT(*) FROM (SELECT 1 FROM resource_state"
                + " WHERE resource_type = ? AND " + QUEUED + " LIMIT ?)");
        PreparedStatement newest = readConnection.prepareStatement(
            "SELECT first_received_at FROM resource_state"
                + " WHERE resource_type = ? AND " + QUEUED + " ORDER BY first_seq DESC LIMIT 1")) {
      for (TypeBacklog type : pendingTypes()) {
        count.setString(1, type.type());
        count.setInt(2, countUpTo);
        long pending;
        try (ResultSet rs = count.executeQuery()) {
          rs.next();
          pending = rs.getLong(1);
        }
        newest.setString(1, type.type());
        Instant newestAt = type.oldestReceivedAt();
        try (ResultSet rs = newest.executeQuery()) {
          if (rs.next()) {
            newestAt = Instant.ofEpochMilli(rs.getLong(1));
          }
        }
        backlog.add(new TypeBacklog(type.type(), pending, type.oldestReceivedAt(), newestAt));
      }
      return backlog;
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  /**
   * Each type with anything pending and its oldest arrival (the count left at zero), found by
   * seeking in the (resource_type, first_seq, first_received_at) index one type after another:
   * the cost grows with the number of types, not with the number of pending rows.
   */
  private List<TypeBacklog> pendingTypes() throws SQLException {
    List<TypeBacklog> types = new ArrayList<>();
    try (PreparedStatement nextType = readConnection.prepareStatement(
        "SELECT resource_type, first_received_at FROM resource_state"
            + " WHERE resource_type > ? AND " + QUEUED + " ORDER BY resource_type, first_seq LIMIT 1")) {
      String type = "";
      while (true) {
        nextType.setString(1, type);
        try (ResultSet rs = nextType.executeQuery()) {
          if (!rs.next()) {
            return types;
          }
          type = rs.getString(1);
          types.add(new TypeBacklog(type, 0, Instant.ofEpochMilli(rs.getLong(2))));
        }
      }
    }
  }

  /**
   * Not synchronized, on a connection of its own: the forwarder reads several types' batches at
   * once (megabytes each), and on one shared connection each waited for the others. Opening a
   * connection costs well under a millisecond beside reading a batch.
   */
  @Override
  public List<PendingChange> oldest(String type, int limit) {
    List<PendingChange> changes = new ArrayList<>();
    try (Connection connection = config().createConnection(url);
        PreparedStatement statement = connection.prepareStatement(
            "SELECT * FROM (" + oldestOf("UPSERT") + ") UNION ALL SELECT * FROM (" + oldestOf("DELETE")
                + ") ORDER BY 12")) {
      BulkLoadMarks marks = BulkLoadMarks.of(connection, type);
      statement.setString(1, type);
      statement.setInt(2, limit);
      statement.setString(3, type);
      statement.setInt(4, limit);
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          Change change = Rows.change(rs, 1);
          String forwardedOperation = rs.getString(9);
          long forwardedAt = rs.getLong(10);
          long createdSeq = rs.getLong(11);
          Long created = rs.wasNull() ? null : createdSeq;
          if (created != null && (created <= openedAtSeq || sent.contains(change.key()))) {
            created = null;
          }
          boolean cannotHold = change.operation() == Operation.DELETE
              && marks.cannotHold(forwardedOperation, forwardedAt, created);
          // Never sent by the relay (or its delete was the last thing sent), not in flight from
          // this process, nor queued before it opened (an earlier process may have died with it
          // in flight, its merge still running): Pathling holds it only if something else put it there.
          boolean ask = change.operation() == Operation.DELETE && !cannotHold
              && (forwardedOperation == null || forwardedOperation.equals(Operation.DELETE.name()))
              && !sent.contains(change.key()) && rs.getLong(12) > openedAtSeq;
          changes.add(new PendingChange(rs.getLong(7), change, Instant.ofEpochMilli(rs.getLong(8)), cannotHold, ask));
        }
      }
      return changes;
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  /** One operation's oldest pending rows: upserts are read past any number of older deletes. */
  private static String oldestOf(String operation) {
    return "SELECT resource_type, resource_id, operation, version_number, last_updated, body,"
        + " seq, received_at, forwarded_operation, forwarded_at, created_seq, first_seq FROM resource_state"
        + " WHERE resource_type = ? AND " + QUEUED + " AND operation = '" + operation + "'"
        + " ORDER BY first_seq LIMIT ?";
  }

  @Override
  public synchronized long lastSeq() {
    return singleLong("SELECT COALESCE((SELECT value FROM counter WHERE name = 'seq'), 0)");
  }

  @Override
  public synchronized long pendingUpTo(long seq) {
    try (PreparedStatement count = readConnection.prepareStatement(
        "SELECT COUNT(*) FROM resource_state"
            + " WHERE resource_type = ? AND " + QUEUED + " AND first_seq <= ?")) {
      long pending = 0;
      for (TypeBacklog type : pendingTypes()) {
        count.setString(1, type.type());
        count.setLong(2, seq);
        try (ResultSet rs = count.executeQuery()) {
          rs.next();
          pending += rs.getLong(1);
        }
      }
      return pending;
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  private long singleLong(String sql) {
    try (PreparedStatement statement = readConnection.prepareStatement(sql);
        ResultSet rs = statement.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }


  @Override
  public void acknowledge(List<PendingChange> delivered) {
    List<PendingChange> copy = List.copyOf(delivered);
    await(
        committer.submit(
            (side, now) -> {
              side.acknowledgeAll(copy, now);
              return null;
            }));
    copy.forEach(change -> sent.remove(change.key()));
  }

  @Override
  public void sending(List<PendingChange> upserts) {
    // Kept in memory, not written: a write before every request would be a commit that succeeds
    // while notifications fail on a nearly full disk. A crash forgets it, and then openedAtSeq
    // covers what may have been in flight.
    // acknowledge() drops them again once Pathling confirmed them (then the forwarded row says
    // so), so the set stays small: what is in flight, or failed and waits for another try.
    for (PendingChange upsert : upserts) {
      sent.add(upsert.key());
    }
  }

  @Override
  public void deadLetter(PendingChange change, int status, String reason) {
    await(
        committer.submit(
            (side, now) -> {
              side.deadLetter(change, status, reason, now);
              return null;
            }));
  }

  // ---- dead letters ----

  @Override
  public synchronized List<DeadLetter> list(int limit) {
    List<DeadLetter> letters = new ArrayList<>();
    try (PreparedStatement statement =
        readConnection.prepareStatement(
            "SELECT resource_type, resource_id, operation, version_number, last_updated, body,"
                + " status, reason, attempts, first_failed_at, last_failed_at FROM dead_letter"
                + " ORDER BY last_failed_at, resource_type, resource_id LIMIT ?")) {
      statement.setInt(1, limit);
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          letters.add(
              new DeadLetter(
                  Rows.change(rs, 1),
                  rs.getInt(7),
                  rs.getString(8),
                  rs.getInt(9),
                  Instant.ofEpochMilli(rs.getLong(10)),
                  Instant.ofEpochMilli(rs.getLong(11))));
        }
      }
      return letters;
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the dead letters", e);
    }
  }

  @Override
  public int retry(Optional<ResourceKey> key) {
    return await(committer.submit((side, now) -> side.replayDeadLetters(key, now)));
  }

  // ---- status ----

  @Override
  public synchronized OutboxStats stats() {
    try (PreparedStatement pending =
            readConnection.prepareStatement(
                "SELECT COUNT(*), MIN(first_received_at) FROM resource_state WHERE " + QUEUED);
        PreparedStatement dead = readConnection.prepareStatement("SELECT COUNT(*) FROM dead_letter");
        PreparedStatement counters =
            readConnection.prepareStatement("SELECT name, value, updated_at FROM counter")) {
      long pendingCount;
      Instant oldest;
      try (ResultSet rs = pending.executeQuery()) {
        rs.next();
        pendingCount = rs.getLong(1);
        long oldestMillis = rs.getLong(2);
        oldest = rs.wasNull() ? null : Instant.ofEpochMilli(oldestMillis);
      }
      long deadLetters;
      try (ResultSet rs = dead.executeQuery()) {
        rs.next();
        deadLetters = rs.getLong(1);
      }
      long staleDrops = 0;
      long pings = 0;
      Instant lastPing = null;
      try (ResultSet rs = counters.executeQuery()) {
        while (rs.next()) {
          switch (rs.getString(1)) {
            case "stale_drops" -> staleDrops = rs.getLong(2);
            case "pings" -> {
              pings = rs.getLong(2);
              lastPing = Instant.ofEpochMilli(rs.getLong(3));
            }
            default -> {
              // counters written by newer versions are ignored
            }
          }
        }
      }
      return new OutboxStats(pendingCount, oldest, deadLetters, staleDrops, pings, lastPing);
    } catch (SQLException e) {
      throw new OutboxUnavailableException("cannot read the outbox", e);
    }
  }

  @Override
  public Optional<String> commitFailure() {
    try {
      committer
          .submit(
              (side, now) -> {
                side.addToCounter("writability_probes", 1, now);
                return null;
              })
          .get();
      return Optional.empty();
    } catch (ExecutionException e) {
      return Optional.of(String.valueOf(e.getCause().getMessage()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("interrupted");
    }
  }

  private static <T> T await(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw e;
    }
  }

  @Override
  public void close() throws Exception {
    committer.close();
    synchronized (this) {
      writeSide.close();
      readConnection.close();
      writeConnection.close();
    }
  }
}
