package org.pathlingrelay.outbox;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
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

  /** Keys per lookup query of a group: well under SQLite's limit of bound parameters. */
  private static final int LOOKUP_SLICE = 500;

  private final Connection connection;
  /**
   * The last version forwarded per resource, for resources updated again and again. Absence is
   * not cached: a backfill's hundreds of thousands of fresh ids would only churn the cache, and
   * {@link #forwardedAhead} answers them for the batch at hand.
   */
  private final Cache<ResourceKey, VersionStamp> forwardedCache;

  private final PreparedStatement selectPending;
  private final PreparedStatement selectForwarded;
  private final PreparedStatement insertPending;
  private final PreparedStatement replacePending;
  private final PreparedStatement deletePendingAt;
  private final PreparedStatement upsertForwarded;
  private final PreparedStatement upsertDeadLetter;
  private final PreparedStatement addToCounter;
  private final PreparedStatement selectDeadLetters;
  private final PreparedStatement deleteDeadLetter;
  private final PreparedStatement selectSeq;
  private final PreparedStatement storeSeq;
  private long lastSeq;
  /** Pending versions read ahead for the changes of one {@link #appendAll} call, then dropped. */
  private final Map<ResourceKey, Optional<Held>> lookedAhead = new HashMap<>();
  /** Forwarded versions (absent included) read ahead for one batch of changes, then dropped. */
  private final Map<ResourceKey, Optional<VersionStamp>> forwardedAhead = new HashMap<>();

  WriteSide(Connection connection, long forwardedCacheSize) throws SQLException {
    this.connection = connection;
    // Maintenance on the writer thread: handing it to the common pool woke a thread on nearly
    // every put, and the wake-ups cost the writer more than the maintenance itself.
    this.forwardedCache =
        Caffeine.newBuilder().maximumSize(forwardedCacheSize).executor(Runnable::run).build();
    selectPending =
        connection.prepareStatement(
            "SELECT seq, version_number, last_updated FROM pending"
                + " WHERE resource_type = ? AND resource_id = ?");
    selectForwarded =
        connection.prepareStatement(
            "SELECT version_number, last_updated FROM forwarded"
                + " WHERE resource_type = ? AND resource_id = ?");
    insertPending =
        connection.prepareStatement(
            "INSERT INTO pending (resource_type, resource_id, seq, first_seq, operation,"
                + " version_number, last_updated, body, first_received_at, received_at)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    // first_seq and first_received_at stay: a resource updated over and over keeps its place in
    // the queue instead of starving behind newer arrivals.
    replacePending =
        connection.prepareStatement(
            "UPDATE pending SET seq = ?, operation = ?, version_number = ?, last_updated = ?,"
                + " body = ?, received_at = ? WHERE resource_type = ? AND resource_id = ?");
    deletePendingAt =
        connection.prepareStatement(
            "DELETE FROM pending WHERE resource_type = ? AND resource_id = ? AND seq = ?");
    upsertForwarded =
        connection.prepareStatement(
            "INSERT INTO forwarded (resource_type, resource_id, operation, version_number,"
                + " last_updated, forwarded_at) VALUES (?, ?, ?, ?, ?, ?)"
                + " ON CONFLICT (resource_type, resource_id) DO UPDATE SET"
                + " operation = excluded.operation, version_number = excluded.version_number,"
                + " last_updated = excluded.last_updated, forwarded_at = excluded.forwarded_at");
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
   * Appends changes in order, as {@link #append} does one by one, but reads what is pending and
   * what was forwarded for all of them in a few queries first: a backfill's chunks would
   * otherwise cost two lookups per resource.
   */
  List<Disposition> appendAll(List<Change> changes, long nowMillis) throws SQLException {
    List<Disposition> dispositions = new ArrayList<>(changes.size());
    try {
      if (changes.size() > 1) {
        lookAhead(changes);
      }
      for (Change change : changes) {
        dispositions.add(append(change, nowMillis));
      }
      return dispositions;
    } finally {
      lookedAhead.clear();
      forwardedAhead.clear();
    }
  }

  private void lookAhead(List<Change> changes) throws SQLException {
    for (IdSlice slice : slices(changes.stream().map(Change::key).toList())) {
      lookAheadPending(slice.type(), slice.ids());
      lookAheadForwarded(slice.type(), slice.ids());
    }
  }

  /** Distinct ids of one type, few enough for one {@code IN} query. */
  private record IdSlice(String type, List<String> ids) {}

  private static List<IdSlice> slices(List<ResourceKey> keys) {
    Map<String, List<String>> idsByType = new LinkedHashMap<>();
    for (ResourceKey key : keys) {
      idsByType.computeIfAbsent(key.type(), t -> new ArrayList<>()).add(key.id());
    }
    List<IdSlice> slices = new ArrayList<>();
    idsByType.forEach((type, all) -> {
      List<String> ids = all.stream().distinct().toList();
      for (int from = 0; from < ids.size(); from += LOOKUP_SLICE) {
        slices.add(new IdSlice(type, ids.subList(from, Math.min(ids.size(), from + LOOKUP_SLICE))));
      }
    });
    return slices;
  }

  private void lookAheadPending(String type, List<String> ids) throws SQLException {
    for (String id : ids) {
      lookedAhead.put(new ResourceKey(type, id), Optional.empty());
    }
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT resource_id, seq, version_number, last_updated FROM pending"
            + " WHERE resource_type = ? AND resource_id IN (" + placeholders(ids.size()) + ")")) {
      bindTypeAndIds(select, type, ids);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          lookedAhead.put(new ResourceKey(type, rs.getString(1)),
              Optional.of(new Held(rs.getLong(2), Rows.stamp(rs, 3))));
        }
      }
    }
  }

  private void lookAheadForwarded(String type, List<String> ids) throws SQLException {
    List<String> uncached = new ArrayList<>();
    for (String id : ids) {
      if (forwardedCache.getIfPresent(new ResourceKey(type, id)) == null) {
        uncached.add(id);
      }
    }
    if (uncached.isEmpty()) {
      return;
    }
    for (String id : uncached) {
      forwardedAhead.put(new ResourceKey(type, id), Optional.empty());
    }
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT resource_id, version_number, last_updated FROM forwarded"
            + " WHERE resource_type = ? AND resource_id IN (" + placeholders(uncached.size()) + ")")) {
      bindTypeAndIds(select, type, uncached);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          ResourceKey key = new ResourceKey(type, rs.getString(1));
          VersionStamp stamp = Rows.stamp(rs, 2);
          forwardedAhead.put(key, Optional.of(stamp));
          forwardedCache.put(key, stamp);
        }
      }
    }
  }

  private static String placeholders(int count) {
    return String.join(", ", java.util.Collections.nCopies(count, "?"));
  }

  private static void bindTypeAndIds(PreparedStatement select, String type, List<String> ids)
      throws SQLException {
    select.setString(1, type);
    for (int i = 0; i < ids.size(); i++) {
      select.setString(i + 2, ids.get(i));
    }
  }

  Disposition append(Change change, long nowMillis) throws SQLException {
    ResourceKey key = change.key();
    Optional<Held> held = pending(key);
    Optional<VersionStamp> forwarded = forwarded(key);
    VersionStamp stamp = change.stamp();
    if (change.operation() == Operation.DELETE && stamp.versionNumber() == null) {
      stamp = inferDeleteStamp(held.map(Held::stamp), forwarded);
    }
    if (forwarded.isPresent()
        && ChangeOrder.compare(stamp, forwarded.get()) != ChangeOrder.Verdict.NEWER) {
      return Disposition.STALE;
    }
    if (held.isPresent()
        && ChangeOrder.compare(stamp, held.get().stamp()) != ChangeOrder.Verdict.NEWER) {
      return Disposition.STALE;
    }
    long seq = ++lastSeq;
    if (held.isPresent()) {
      replacePending.setLong(1, seq);
      replacePending.setString(2, change.operation().name());
      setNullableLong(replacePending, 3, stamp.versionNumber());
      setNullableLong(replacePending, 4, stamp.lastUpdatedMillis());
      replacePending.setBytes(5, bytesOf(change));
      replacePending.setLong(6, nowMillis);
      replacePending.setString(7, key.type());
      replacePending.setString(8, key.id());
      replacePending.executeUpdate();
      lookedAheadNowHeld(key, seq, stamp);
      return Disposition.REPLACED;
    }
    insertPending.setString(1, key.type());
    insertPending.setString(2, key.id());
    insertPending.setLong(3, seq);
    insertPending.setLong(4, seq);
    insertPending.setString(5, change.operation().name());
    setNullableLong(insertPending, 6, stamp.versionNumber());
    setNullableLong(insertPending, 7, stamp.lastUpdatedMillis());
    insertPending.setBytes(8, bytesOf(change));
    insertPending.setLong(9, nowMillis);
    insertPending.setLong(10, nowMillis);
    insertPending.executeUpdate();
    lookedAheadNowHeld(key, seq, stamp);
    return Disposition.QUEUED;
  }

  /** The delete takes the version after the newest we know of, so older updates count as stale. */
  private static VersionStamp inferDeleteStamp(
      Optional<VersionStamp> held, Optional<VersionStamp> forwarded) {
    Long newest = null;
    for (Optional<VersionStamp> known : List.of(held, forwarded)) {
      Long version = known.map(VersionStamp::versionNumber).orElse(null);
      if (version != null && (newest == null || version > newest)) {
        newest = version;
      }
    }
    return newest == null ? VersionStamp.UNKNOWN : new VersionStamp(newest, null).successor();
  }

  /**
   * Removes delivered changes from the queue and records their versions as forwarded, reading
   * what was forwarded before for all of them in a few queries first.
   */
  void acknowledgeAll(List<PendingChange> delivered, long nowMillis) throws SQLException {
    try {
      for (IdSlice slice : slices(delivered.stream().map(PendingChange::key).toList())) {
        lookAheadForwarded(slice.type(), slice.ids());
      }
      for (PendingChange change : delivered) {
        acknowledge(change, nowMillis);
      }
    } finally {
      forwardedAhead.clear();
    }
  }

  private void acknowledge(PendingChange delivered, long nowMillis) throws SQLException {
    ResourceKey key = delivered.key();
    deletePendingAt.setString(1, key.type());
    deletePendingAt.setString(2, key.id());
    deletePendingAt.setLong(3, delivered.seq());
    deletePendingAt.executeUpdate();
    VersionStamp stamp = delivered.change().stamp();
    Optional<VersionStamp> forwarded = forwarded(key);
    if (forwarded.isEmpty()
        || ChangeOrder.compare(stamp, forwarded.get()) == ChangeOrder.Verdict.NEWER) {
      upsertForwarded.setString(1, key.type());
      upsertForwarded.setString(2, key.id());
      upsertForwarded.setString(3, delivered.operation().name());
      setNullableLong(upsertForwarded, 4, stamp.versionNumber());
      setNullableLong(upsertForwarded, 5, stamp.lastUpdatedMillis());
      upsertForwarded.setLong(6, nowMillis);
      upsertForwarded.executeUpdate();
      rememberForwarded(key, stamp);
    }
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
    deletePendingAt.setString(1, change.key().type());
    deletePendingAt.setString(2, change.key().id());
    deletePendingAt.setLong(3, rejected.seq());
    deletePendingAt.executeUpdate();
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
      append(letter, nowMillis);
      deleteDeadLetter.setString(1, letter.key().type());
      deleteDeadLetter.setString(2, letter.key().id());
      deleteDeadLetter.executeUpdate();
    }
    return letters.size();
  }

  /**
   * Records a topic-based notification and tells whether events were missed: a first event number
   * beyond the next expected one, a count of events since start beyond the last seen (a heartbeat
   * after lost notifications), or a count that went backwards (the source reset the counter).
   */
  boolean recordSubscriptionEvent(SubscriptionEvent event, long nowMillis) throws SQLException {
    Long previous = null;
    try (PreparedStatement select =
        connection.prepareStatement("SELECT last_event FROM subscription_event WHERE subscription = ?")) {
      select.setString(1, event.subscription());
      try (ResultSet rs = select.executeQuery()) {
        if (rs.next()) {
          long value = rs.getLong(1);
          previous = rs.wasNull() ? null : value;
        }
      }
    }
    boolean missed = false;
    Long latest = previous;
    if (previous != null) {
      if (event.firstEventNumber().isPresent() && event.firstEventNumber().getAsLong() > previous + 1) {
        missed = true;
      }
      if (event.eventsSinceStart().isPresent() && event.eventsSinceStart().getAsLong() < previous) {
        missed = true; // a reset: whatever happened around it may be lost
        latest = null;
      }
      if (event.lastEventNumber().isEmpty() && event.eventsSinceStart().isPresent()
          && event.eventsSinceStart().getAsLong() > previous) {
        missed = true; // a heartbeat that counts more events than we received
      }
    }
    if (event.lastEventNumber().isPresent()) {
      long last = event.lastEventNumber().getAsLong();
      latest = latest == null ? last : Math.max(latest, last);
    } else if (event.eventsSinceStart().isPresent()) {
      latest = latest == null ? event.eventsSinceStart().getAsLong() : Math.max(latest, event.eventsSinceStart().getAsLong());
    }
    try (PreparedStatement upsert = connection.prepareStatement(
        "INSERT INTO subscription_event (subscription, last_event, last_type, last_seen_at, gaps)"
            + " VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscription) DO UPDATE SET"
            + " last_event = excluded.last_event, last_type = excluded.last_type,"
            + " last_seen_at = excluded.last_seen_at, gaps = subscription_event.gaps + excluded.gaps")) {
      upsert.setString(1, event.subscription());
      setNullableLong(upsert, 2, latest);
      upsert.setString(3, event.type());
      upsert.setLong(4, nowMillis);
      upsert.setLong(5, missed ? 1 : 0);
      upsert.executeUpdate();
    }
    return missed;
  }

  void addToCounter(String name, long delta, long nowMillis) throws SQLException {
    addToCounter.setString(1, name);
    addToCounter.setLong(2, delta);
    addToCounter.setLong(3, nowMillis);
    addToCounter.executeUpdate();
  }

  /** After a rollback the cache may hold versions that never committed. */
  void forgetUncommitted() {
    forwardedCache.invalidateAll();
  }

  /** A key twice in one {@link #appendAll}: its second change must see the first as pending. */
  private void lookedAheadNowHeld(ResourceKey key, long seq, VersionStamp stamp) {
    if (lookedAhead.containsKey(key)) {
      lookedAhead.put(key, Optional.of(new Held(seq, stamp)));
    }
  }

  private Optional<Held> pending(ResourceKey key) throws SQLException {
    Optional<Held> ahead = lookedAhead.get(key);
    if (ahead != null) {
      return ahead;
    }
    selectPending.setString(1, key.type());
    selectPending.setString(2, key.id());
    try (ResultSet rs = selectPending.executeQuery()) {
      if (!rs.next()) {
        return Optional.empty();
      }
      return Optional.of(new Held(rs.getLong(1), Rows.stamp(rs, 2)));
    }
  }

  private Optional<VersionStamp> forwarded(ResourceKey key) throws SQLException {
    Optional<VersionStamp> ahead = forwardedAhead.get(key);
    if (ahead != null) {
      return ahead;
    }
    VersionStamp cached = forwardedCache.getIfPresent(key);
    if (cached != null) {
      return Optional.of(cached);
    }
    selectForwarded.setString(1, key.type());
    selectForwarded.setString(2, key.id());
    try (ResultSet rs = selectForwarded.executeQuery()) {
      if (!rs.next()) {
        return Optional.empty();
      }
      VersionStamp found = Rows.stamp(rs, 1);
      forwardedCache.put(key, found);
      return Optional.of(found);
    }
  }

  /** A key twice in one batch: its second change must see the first as forwarded. */
  private void rememberForwarded(ResourceKey key, VersionStamp stamp) {
    forwardedCache.put(key, stamp);
    if (forwardedAhead.containsKey(key)) {
      forwardedAhead.put(key, Optional.of(stamp));
    }
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
            selectPending,
            selectForwarded,
            insertPending,
            replacePending,
            deletePendingAt,
            upsertForwarded,
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
