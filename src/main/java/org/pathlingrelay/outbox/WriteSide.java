package org.pathlingrelay.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every write the outbox makes, as statements on the single writer connection. Only the writer
 * thread calls this, inside a transaction it commits, so the read-decide-write steps below cannot
 * interleave with one another.
 */
final class WriteSide implements AutoCloseable {

  private record Held(long seq, VersionStamp stamp) {}

  /** What the outbox holds for one resource: the change waiting to be forwarded, the last forwarded. */
  private record Known(Optional<Held> pending, Optional<VersionStamp> forwarded) {
    static final Known NOTHING = new Known(Optional.empty(), Optional.empty());
  }

  /** Keys per lookup query of a group: well under SQLite's limit of bound parameters. */
  private static final int LOOKUP_SLICE = 500;

  /** The columns {@link #known} reads, after any leading ones. */
  private static final String KNOWN_COLUMNS =
      "seq, version_number, last_updated, forwarded_at, forwarded_version_number, forwarded_last_updated";

  private final Connection connection;
  private final PreparedStatement selectKnown;
  private final PreparedStatement upsertPending;
  private final PreparedStatement forwardPending;
  private final PreparedStatement clearPending;
  private final PreparedStatement recordForwarded;
  private final PreparedStatement upsertDeadLetter;
  private final PreparedStatement addToCounter;
  private final PreparedStatement setCounter;
  private final PreparedStatement selectDeadLetters;
  private final PreparedStatement deleteDeadLetter;
  private final PreparedStatement selectSeq;
  private final PreparedStatement storeSeq;
  private long lastSeq;
  /** What is known of the resources of one batch, read ahead in a few queries, then dropped. */
  private final Map<ResourceKey, Known> lookedAhead = new HashMap<>();

  private final SubscriptionTracks tracks;

  WriteSide(Connection connection, Duration eventReorderWindow) throws SQLException {
    this.connection = connection;
    this.tracks = new SubscriptionTracks(connection, eventReorderWindow);
    selectKnown =
        connection.prepareStatement(
            "SELECT " + KNOWN_COLUMNS + " FROM resource_state WHERE resource_type = ? AND resource_id = ?");
    // A resource that was forwarded before re-enters the queue at the back (first_seq and
    // first_received_at are null then); one updated over and over while it waits keeps its place
    // instead of starving behind newer arrivals.
    upsertPending =
        connection.prepareStatement(
            "INSERT INTO resource_state (resource_type, resource_id, seq, first_seq, operation,"
                + " version_number, last_updated, body, first_received_at, received_at, created_seq)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                + " ON CONFLICT (resource_type, resource_id) DO UPDATE SET seq = excluded.seq,"
                + " first_seq = COALESCE(resource_state.first_seq, excluded.first_seq),"
                + " operation = excluded.operation, version_number = excluded.version_number,"
                + " last_updated = excluded.last_updated, body = excluded.body,"
                + " first_received_at = COALESCE(resource_state.first_received_at, excluded.first_received_at),"
                + " received_at = excluded.received_at,"
                + " created_seq = COALESCE(resource_state.created_seq, excluded.created_seq)");
    String pendingCleared = "seq = NULL, first_seq = NULL, operation = NULL, version_number = NULL,"
        + " last_updated = NULL, body = NULL, first_received_at = NULL, received_at = NULL";
    // The usual acknowledgement: the forwarded change leaves the queue and becomes the resource's
    // last forwarded version, in one row write. Only when seq still matches: a newer change that
    // arrived while this one was in flight stays queued.
    forwardPending =
        connection.prepareStatement(
            "UPDATE resource_state SET " + pendingCleared + ", forwarded_operation = ?,"
                + " forwarded_version_number = ?, forwarded_last_updated = ?, forwarded_at = ?"
                + " WHERE resource_type = ? AND resource_id = ? AND seq = ?");
    clearPending =
        connection.prepareStatement(
            "UPDATE resource_state SET " + pendingCleared
                + " WHERE resource_type = ? AND resource_id = ? AND seq = ?");
    recordForwarded =
        connection.prepareStatement(
            "INSERT INTO resource_state (resource_type, resource_id, forwarded_operation,"
                + " forwarded_version_number, forwarded_last_updated, forwarded_at) VALUES (?, ?, ?, ?, ?, ?)"
                + " ON CONFLICT (resource_type, resource_id) DO UPDATE SET"
                + " forwarded_operation = excluded.forwarded_operation,"
                + " forwarded_version_number = excluded.forwarded_version_number,"
                + " forwarded_last_updated = excluded.forwarded_last_updated,"
                + " forwarded_at = excluded.forwarded_at");
    upsertDeadLetter =
        connection.prepareStatement(
            "INSERT INTO dead_letter (resource_type, resource_id, operation, version_number,"
                + " last_updated, body, status, reason, attempts, first_failed_at, last_failed_at)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                + " ON CONFLICT (resource_type, resource_id) DO UPDATE SET"
                + " operation = excluded.operation, version_number = excluded.version_number,"
                + " last_updated = excluded.last_updated, body = excluded.body,"
                + " status = excluded.status, reason = excluded.reason,"
                + " attempts = dead_letter.attempts + 1, last_failed_at = excluded.last_failed_at");
    addToCounter =
        connection.prepareStatement(
            "INSERT INTO counter (name, value, updated_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (name) DO UPDATE SET value = counter.value + excluded.value,"
                + " updated_at = excluded.updated_at");
    setCounter =
        connection.prepareStatement(
            "INSERT INTO counter (name, value, updated_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    selectDeadLetters =
        connection.prepareStatement(
            "SELECT resource_type, resource_id, operation, version_number, last_updated, body"
                + " FROM dead_letter WHERE (? IS NULL OR (resource_type = ? AND resource_id = ?))");
    deleteDeadLetter =
        connection.prepareStatement(
            "DELETE FROM dead_letter WHERE resource_type = ? AND resource_id = ?");
    selectSeq = connection.prepareStatement("SELECT value FROM counter WHERE name = 'seq'");
    storeSeq =
        connection.prepareStatement(
            "INSERT INTO counter (name, value) VALUES ('seq', ?)"
                + " ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  }

  /**
   * Reads the sequence at the start of each transaction: another process (the dead-letters
   * command) may have appended since, and a reused seq could acknowledge the wrong version.
   */
  void beginGroup() throws SQLException {
    try (ResultSet rs = selectSeq.executeQuery()) {
      lastSeq = rs.next() ? rs.getLong(1) : 0;
    }
  }

  void endGroup() throws SQLException {
    storeSeq.setLong(1, lastSeq);
    storeSeq.executeUpdate();
  }

  /**
   * Appends changes in order, as {@link #append} does one by one, but reads what is known of all
   * of them in a few queries first: a backfill's chunks would otherwise cost a lookup per resource.
   *
   * @param guardForwarded false to drop only what is pending at its version or newer (a repair's resend)
   */
  List<Disposition> appendAll(List<Change> changes, long nowMillis, boolean guardForwarded) throws SQLException {
    List<Disposition> dispositions = new ArrayList<>(changes.size());
    try {
      if (changes.size() > 1) {
        lookAhead(changes.stream().map(Change::key).toList());
      }
      for (Change change : changes) {
        dispositions.add(append(change, nowMillis, guardForwarded));
      }
      return dispositions;
    } finally {
      lookedAhead.clear();
    }
  }

  /** Distinct ids of one type, few enough for one {@code IN} query. */
  private record IdSlice(String type, List<String> ids) {}

  private void lookAhead(List<ResourceKey> keys) throws SQLException {
    Map<String, List<String>> idsByType = new LinkedHashMap<>();
    for (ResourceKey key : keys) {
      if (lookedAhead.putIfAbsent(key, Known.NOTHING) == null) {
        idsByType.computeIfAbsent(key.type(), t -> new ArrayList<>()).add(key.id());
      }
    }
    for (Map.Entry<String, List<String>> type : idsByType.entrySet()) {
      List<String> ids = type.getValue();
      for (int from = 0; from < ids.size(); from += LOOKUP_SLICE) {
        lookAhead(new IdSlice(type.getKey(), ids.subList(from, Math.min(ids.size(), from + LOOKUP_SLICE))));
      }
    }
  }

  private void lookAhead(IdSlice slice) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT resource_id, " + KNOWN_COLUMNS + " FROM resource_state"
            + " WHERE resource_type = ? AND resource_id IN ("
            + String.join(", ", Collections.nCopies(slice.ids().size(), "?")) + ")")) {
      select.setString(1, slice.type());
      for (int i = 0; i < slice.ids().size(); i++) {
        select.setString(i + 2, slice.ids().get(i));
      }
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          lookedAhead.put(new ResourceKey(slice.type(), rs.getString(1)), known(rs, 2));
        }
      }
    }
  }

  /** Reads {@link #KNOWN_COLUMNS} starting at {@code column}. */
  private static Known known(ResultSet rs, int column) throws SQLException {
    long seq = rs.getLong(column);
    Optional<Held> pending = rs.wasNull()
        ? Optional.empty()
        : Optional.of(new Held(seq, Rows.stamp(rs, column + 1)));
    rs.getLong(column + 3); // forwarded_at: null while the resource was never forwarded
    Optional<VersionStamp> forwarded = rs.wasNull()
        ? Optional.empty()
        : Optional.of(Rows.stamp(rs, column + 4));
    return new Known(pending, forwarded);
  }

  private Known known(ResourceKey key) throws SQLException {
    Known ahead = lookedAhead.get(key);
    if (ahead != null) {
      return ahead;
    }
    selectKnown.setString(1, key.type());
    selectKnown.setString(2, key.id());
    try (ResultSet rs = selectKnown.executeQuery()) {
      return rs.next() ? known(rs, 1) : Known.NOTHING;
    }
  }

  /** A key twice in one batch: its second change must see what the first did. */
  private void remember(ResourceKey key, Known now) {
    lookedAhead.computeIfPresent(key, (k, before) -> now);
  }

  private Disposition append(Change change, long nowMillis, boolean guardForwarded) throws SQLException {
    ResourceKey key = change.key();
    Known known = known(key);
    Optional<Held> held = known.pending();
    Optional<VersionStamp> forwarded = known.forwarded();
    VersionStamp stamp = change.stamp();
    if (change.operation() == Operation.DELETE && stamp.versionNumber() == null) {
      stamp = inferDeleteStamp(held.map(Held::stamp), forwarded);
    }
    if (guardForwarded && forwarded.isPresent()
        && ChangeOrder.compare(stamp, forwarded.get()) != ChangeOrder.Verdict.NEWER) {
      return Disposition.STALE;
    }
    if (held.isPresent()
        && ChangeOrder.compare(stamp, held.get().stamp()) != ChangeOrder.Verdict.NEWER) {
      return Disposition.STALE;
    }
    long seq = ++lastSeq;
    upsertPending.setString(1, key.type());
    upsertPending.setString(2, key.id());
    upsertPending.setLong(3, seq);
    upsertPending.setLong(4, seq);
    upsertPending.setString(5, change.operation().name());
    setNullableLong(upsertPending, 6, stamp.versionNumber());
    setNullableLong(upsertPending, 7, stamp.lastUpdatedMillis());
    upsertPending.setBytes(8, bytesOf(change));
    upsertPending.setLong(9, nowMillis);
    upsertPending.setLong(10, nowMillis);
    // A creation seen before anything was forwarded: Pathling can hold this resource only once
    // the relay forwards it (or a bulk load of its type runs).
    boolean creation = change.operation() == Operation.UPSERT && Long.valueOf(1).equals(stamp.versionNumber())
        && forwarded.isEmpty();
    setNullableLong(upsertPending, 11, creation ? seq : null);
    upsertPending.executeUpdate();
    remember(key, new Known(Optional.of(new Held(seq, stamp)), forwarded));
    return held.isPresent() ? Disposition.REPLACED : Disposition.QUEUED;
  }

  /**
   * The delete takes the version after the newest we know of, so older updates count as stale. Of
   * a resource we know no version of, it takes version 2: versions count from 1 and a delete is a
   * version of its own (HAPI's), so the creation arriving after its delete (HAPI delivers on
   * several threads, in no order) is older and cannot bring the resource back.
   */
  private static final VersionStamp FIRST_DELETABLE = new VersionStamp(2L, null);

  private static VersionStamp inferDeleteStamp(
      Optional<VersionStamp> held, Optional<VersionStamp> forwarded) {
    Long newest = null;
    for (Optional<VersionStamp> known : List.of(held, forwarded)) {
      Long version = known.map(VersionStamp::versionNumber).orElse(null);
      if (version != null && (newest == null || version > newest)) {
        newest = version;
      }
    }
    return newest == null ? FIRST_DELETABLE : new VersionStamp(newest, null).successor();
  }

  /**
   * Removes delivered changes from the queue and records their versions as forwarded, reading
   * what was forwarded before for all of them in a few queries first.
   */
  void acknowledgeAll(List<PendingChange> delivered, long nowMillis) throws SQLException {
    try {
      lookAhead(delivered.stream().map(PendingChange::key).toList());
      for (PendingChange change : delivered) {
        acknowledge(change, nowMillis);
      }
    } finally {
      lookedAhead.clear();
    }
  }

  private void acknowledge(PendingChange delivered, long nowMillis) throws SQLException {
    ResourceKey key = delivered.key();
    VersionStamp stamp = delivered.change().stamp();
    Known known = known(key);
    boolean newer = known.forwarded().isEmpty()
        || ChangeOrder.compare(stamp, known.forwarded().get()) == ChangeOrder.Verdict.NEWER;
    if (!newer) {
      clearPending(key, delivered.seq());
      return;
    }
    bindForwarded(forwardPending, 1, delivered, stamp, nowMillis);
    forwardPending.setString(5, key.type());
    forwardPending.setString(6, key.id());
    forwardPending.setLong(7, delivered.seq());
    Optional<Held> stillPending = Optional.empty();
    if (forwardPending.executeUpdate() == 0) {
      // A newer change arrived while this one was in flight: it stays queued.
      recordForwarded.setString(1, key.type());
      recordForwarded.setString(2, key.id());
      bindForwarded(recordForwarded, 3, delivered, stamp, nowMillis);
      recordForwarded.executeUpdate();
      stillPending = known.pending();
    }
    remember(key, new Known(stillPending, Optional.of(stamp)));
  }

  /** Binds the forwarded operation, version, last updated and time from parameter {@code from}. */
  private static void bindForwarded(
      PreparedStatement statement, int from, PendingChange delivered, VersionStamp stamp, long nowMillis)
      throws SQLException {
    statement.setString(from, delivered.operation().name());
    setNullableLong(statement, from + 1, stamp.versionNumber());
    setNullableLong(statement, from + 2, stamp.lastUpdatedMillis());
    statement.setLong(from + 3, nowMillis);
  }

  private void clearPending(ResourceKey key, long seq) throws SQLException {
    clearPending.setString(1, key.type());
    clearPending.setString(2, key.id());
    clearPending.setLong(3, seq);
    clearPending.executeUpdate();
  }

  void deadLetter(PendingChange rejected, int status, String reason, long nowMillis)
      throws SQLException {
    Change change = rejected.change();
    upsertDeadLetter.setString(1, change.key().type());
    upsertDeadLetter.setString(2, change.key().id());
    upsertDeadLetter.setString(3, change.operation().name());
    setNullableLong(upsertDeadLetter, 4, change.stamp().versionNumber());
    setNullableLong(upsertDeadLetter, 5, change.stamp().lastUpdatedMillis());
    upsertDeadLetter.setBytes(6, bytesOf(change));
    upsertDeadLetter.setInt(7, status);
    upsertDeadLetter.setString(8, reason);
    upsertDeadLetter.setLong(9, nowMillis);
    upsertDeadLetter.setLong(10, nowMillis);
    upsertDeadLetter.executeUpdate();
    clearPending(change.key(), rejected.seq());
  }

  int replayDeadLetters(Optional<ResourceKey> only, long nowMillis) throws SQLException {
    List<Change> letters = new ArrayList<>();
    selectDeadLetters.setString(1, only.map(ResourceKey::type).orElse(null));
    selectDeadLetters.setString(2, only.map(ResourceKey::type).orElse(null));
    selectDeadLetters.setString(3, only.map(ResourceKey::id).orElse(null));
    try (ResultSet rs = selectDeadLetters.executeQuery()) {
      while (rs.next()) {
        letters.add(Rows.change(rs, 1));
      }
    }
    for (Change letter : letters) {
      append(letter, nowMillis, true);
      deleteDeadLetter.setString(1, letter.key().type());
      deleteDeadLetter.setString(2, letter.key().id());
      deleteDeadLetter.executeUpdate();
    }
    return letters.size();
  }

  /** Records a topic-based notification; the gaps it shows at once (see {@link EventNumbering}). */
  int recordSubscriptionEvent(SubscriptionEvent event, long nowMillis) throws SQLException {
    return tracks.record(event, nowMillis);
  }

  /** Counts the holes in topic subscriptions' numbers that their window has passed as missed. */
  List<MissedEvents> closeExpiredEventHoles(long nowMillis) throws SQLException {
    return tracks.closeExpiredHoles(nowMillis);
  }

  /**
   * Records that a bulk load put the given types (all when empty) into Pathling: from now on,
   * Pathling may hold any resource of them that was queued before.
   */
  void markBulkLoad(Collection<String> types, boolean running, long nowMillis) throws SQLException {
    for (String name : BulkLoadMarks.counterNames(types)) {
      setCounter.setString(1, name);
      // While a load runs, nothing is known of what Pathling holds: it counts as never ending.
      setCounter.setLong(2, running ? Long.MAX_VALUE : lastSeq);
      setCounter.setLong(3, running ? Long.MAX_VALUE : nowMillis);
      setCounter.executeUpdate();
    }
  }

  /** Pathling was seen holding resources of these types now: a mark of their own, beside the loads'. */
  void markSeenInPathling(Collection<String> types, long nowMillis) throws SQLException {
    for (String name : BulkLoadMarks.seenNames(types)) {
      setCounter.setString(1, name);
      setCounter.setLong(2, lastSeq);
      setCounter.setLong(3, nowMillis);
      setCounter.executeUpdate();
    }
  }


  void addToCounter(String name, long delta, long nowMillis) throws SQLException {
    addToCounter.setString(1, name);
    addToCounter.setLong(2, delta);
    addToCounter.setLong(3, nowMillis);
    addToCounter.executeUpdate();
  }

  private static void setNullableLong(PreparedStatement statement, int index, Long value)
      throws SQLException {
    if (value == null) {
      statement.setNull(index, Types.INTEGER);
    } else {
      statement.setLong(index, value);
    }
  }

  @Override
  public void close() throws SQLException {
    for (PreparedStatement statement :
        List.of(
            selectKnown,
            upsertPending,
            forwardPending,
            clearPending,
            recordForwarded,
            upsertDeadLetter,
            addToCounter,
            selectDeadLetters,
            deleteDeadLetter,
            selectSeq,
            storeSeq)) {
      statement.close();
    }
  }

  /** Stored as the UTF-8 bytes that came in; text and blob read back the same. */
  private static byte[] bytesOf(Change change) {
    return change.json() == null ? null : change.json().utf8();
  }
}
