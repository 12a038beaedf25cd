package org.pathlingrelay.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The outbox's promises, on a real SQLite file. */
class SqliteOutboxTest {

  private static final ResourceKey PATIENT = new ResourceKey("Patient", "p1");

  @TempDir Path dir;
  private Outbox outbox;

  @BeforeEach
  void open() throws Exception {
    outbox = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC());
  }

  @AfterEach
  void close() throws Exception {
    outbox.close();
  }

  private static Change version(ResourceKey key, long version) {
    return Change.upsert(
        key,
        new VersionStamp(version, null),
        "{\"resourceType\":\"" + key.type() + "\",\"id\":\"" + key.id()
            + "\",\"meta\":{\"versionId\":\"" + version + "\"}}");
  }

  private Disposition append(Change change) {
    return outbox.append(List.of(change)).join().get(0);
  }

  private List<PendingChange> pending(String type) {
    return outbox.oldest(type, 10_000);
  }

  @Test
  void manyUpdatesOfOneResource_coalesceIntoOnePendingRowWithTheLatestVersion() {
    for (long v = 1; v <= 50; v++) {
      append(version(PATIENT, v));
    }
    assertThat(pending("Patient"))
        .singleElement()
        .satisfies(p -> assertThat(p.change().stamp().versionNumber()).isEqualTo(50L));
  }

  @Test
  void types_namesEachTypeHeld_queuedOrForwarded_once() {
    assertThat(outbox.types()).isEmpty();
    append(version(PATIENT, 1));
    append(version(new ResourceKey("Patient", "p2"), 1));
    append(version(new ResourceKey("Observation", "o1"), 1));
    outbox.acknowledge(pending("Observation"));

    assertThat(pending("Observation")).isEmpty();
    assertThat(outbox.types()).containsExactly("Observation", "Patient");
  }

  @Test
  void olderOrEqualVersion_isDroppedAsStale() {
    assertThat(append(version(PATIENT, 3))).isEqualTo(Disposition.QUEUED);
    assertThat(append(version(PATIENT, 2))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 3))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 4))).isEqualTo(Disposition.REPLACED);
    assertThat(pending("Patient").get(0).change().stamp().versionNumber()).isEqualTo(4L);
    assertThat(outbox.stats().staleDrops()).isEqualTo(2);
  }

  @Test
  void versionsCompareAsNumbers_notAsText() {
    append(version(PATIENT, 9));
    assertThat(append(version(PATIENT, 10))).isEqualTo(Disposition.REPLACED);
  }

  @Test
  void withoutNumericVersions_lastUpdatedDecides() {
    Change later = Change.upsert(PATIENT, new VersionStamp(null, 2_000L), "{\"id\":\"later\"}");
    Change earlier = Change.upsert(PATIENT, new VersionStamp(null, 1_000L), "{\"id\":\"earlier\"}");
    append(later);
    assertThat(append(earlier)).isEqualTo(Disposition.STALE);
    assertThat(pending("Patient").get(0).change().body()).contains("later");
  }

  @Test
  void withoutAnyStamp_arrivalOrderDecides() {
    append(Change.upsert(PATIENT, VersionStamp.UNKNOWN, "{\"n\":1}"));
    assertThat(append(Change.upsert(PATIENT, VersionStamp.UNKNOWN, "{\"n\":2}")))
        .isEqualTo(Disposition.REPLACED);
    assertThat(pending("Patient").get(0).change().body()).contains("2");
  }

  @Test
  void deleteReplacesPendingUpsert_andLateOlderUpdateCannotResurrectIt() {
    append(version(PATIENT, 1));
    assertThat(append(Change.delete(PATIENT, VersionStamp.UNKNOWN))).isEqualTo(Disposition.REPLACED);
    // HAPI's two delivery threads may deliver version 1 again, or the delete's predecessor, late.
    assertThat(append(version(PATIENT, 1))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 2))).isEqualTo(Disposition.STALE);
    assertThat(pending("Patient")).singleElement().satisfies(p -> {
      assertThat(p.operation()).isEqualTo(Operation.DELETE);
    });
    // A re-created resource gets a version after the delete's, and wins.
    assertThat(append(version(PATIENT, 3))).isEqualTo(Disposition.REPLACED);
    assertThat(pending("Patient").get(0).operation()).isEqualTo(Operation.UPSERT);
  }

  @Test
  void aCreationArrivingAfterTheDeleteOfAResourceNeverSeen_isStale_pendingOrForwarded() {
    // HAPI delivers on several threads: a resource created and deleted within seconds may reach
    // the relay delete first. Versions count from 1 and the delete is a version of its own.
    ResourceKey pendingDelete = new ResourceKey("Patient", "race-1");
    ResourceKey forwardedDelete = new ResourceKey("Patient", "race-2");
    append(Change.delete(pendingDelete, VersionStamp.UNKNOWN));
    append(Change.delete(forwardedDelete, VersionStamp.UNKNOWN));
    outbox.acknowledge(pending("Patient").stream().filter(p -> p.key().equals(forwardedDelete)).toList());

    assertThat(append(version(pendingDelete, 1))).isEqualTo(Disposition.STALE);
    assertThat(append(version(forwardedDelete, 1))).isEqualTo(Disposition.STALE);
    assertThat(pending("Patient")).singleElement().satisfies(p -> {
      assertThat(p.key()).isEqualTo(pendingDelete);
      assertThat(p.operation()).isEqualTo(Operation.DELETE);
    });
    // Re-created after the delete, a resource gets a later version (HAPI: 3), and wins.
    assertThat(append(version(forwardedDelete, 3))).isEqualTo(Disposition.QUEUED);
  }

  @Test
  void acknowledge_removesTheRow_andOlderVersionsAreStaleAfterwards() {
    append(version(PATIENT, 5));
    outbox.acknowledge(pending("Patient"));
    assertThat(pending("Patient")).isEmpty();
    assertThat(append(version(PATIENT, 4))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 5))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 6))).isEqualTo(Disposition.QUEUED);
  }

  @Test
  void resend_queuesAVersionAlreadyForwarded_butNotOneAlreadyPending() {
    append(version(PATIENT, 5));
    outbox.acknowledge(pending("Patient"));

    // A repair saw Pathling lack version 5, though the relay sent it: it goes again.
    assertThat(outbox.resend(List.of(version(PATIENT, 5))).join()).containsExactly(Disposition.QUEUED);
    assertThat(pending("Patient")).extracting(p -> p.change().stamp().versionNumber()).containsExactly(5L);
    // Pending at that version already: on its way, nothing to add.
    assertThat(outbox.resend(List.of(version(PATIENT, 5))).join()).containsExactly(Disposition.STALE);
    assertThat(outbox.resend(List.of(version(PATIENT, 4))).join()).containsExactly(Disposition.STALE);
  }

  @Test
  void acknowledge_keepsANewerVersionThatArrivedWhileInFlight() {
    append(version(PATIENT, 1));
    List<PendingChange> inFlight = pending("Patient");
    append(version(PATIENT, 2));
    outbox.acknowledge(inFlight);
    assertThat(pending("Patient"))
        .singleElement()
        .satisfies(p -> assertThat(p.change().stamp().versionNumber()).isEqualTo(2L));
  }

  @Test
  void forwardedVersionGuard_survivesReopening() throws Exception {
    append(version(PATIENT, 7));
    outbox.acknowledge(pending("Patient"));
    outbox.close();
    outbox = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC());
    assertThat(append(version(PATIENT, 6))).isEqualTo(Disposition.STALE);
  }

  @Test
  void forwardedVersionGuard_holdsForMoreResourcesThanOneLookupQueryReads() throws Exception {
    outbox.close();
    outbox = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC(),
        new Outbox.Settings(1_000, 100));
    List<Change> batch = new java.util.ArrayList<>();
    for (int i = 0; i < 1_200; i++) {
      batch.add(version(new ResourceKey("Observation", "o" + i), 3));
    }
    outbox.append(batch).join();
    outbox.acknowledge(pending("Observation"));

    List<Change> older = batch.stream()
        .map(change -> version(change.key(), 2)).toList();
    assertThat(outbox.append(older).join()).containsOnly(Disposition.STALE);
    assertThat(append(version(new ResourceKey("Observation", "o7"), 3))).isEqualTo(Disposition.STALE);
    assertThat(append(version(new ResourceKey("Observation", "o7"), 4))).isEqualTo(Disposition.QUEUED);
    outbox.acknowledge(pending("Observation"));
    assertThat(append(version(new ResourceKey("Observation", "o7"), 3))).isEqualTo(Disposition.STALE);
  }

  @Test
  void aNewOutboxFile_has16KiBPages_andAnOlderOneKeepsItsOwn() throws Exception {
    assertThat(pageSize(dir.resolve("relay.db"))).isEqualTo(16 * 1024);

    Path older = dir.resolve("older.db");
    try (java.sql.Connection connection = java.sql.DriverManager.getConnection("jdbc:sqlite:" + older);
        java.sql.Statement statement = connection.createStatement()) {
      statement.execute("PRAGMA journal_mode = WAL");
      statement.execute("CREATE TABLE left_by_someone (x)");
    }
    try (Outbox reopened = Outbox.open(older, Clock.systemUTC())) {
      assertThat(reopened.append(List.of(version(PATIENT, 1))).join()).containsExactly(Disposition.QUEUED);
    }
    assertThat(pageSize(older)).isEqualTo(4096);
  }

  private static long pageSize(Path file) throws Exception {
    try (java.sql.Connection connection = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file);
        java.sql.Statement statement = connection.createStatement();
        java.sql.ResultSet result = statement.executeQuery("PRAGMA page_size")) {
      return result.getLong(1);
    }
  }

  @Test
  void pendingRows_surviveAReopen() throws Exception {
    for (int i = 0; i < 100; i++) {
      append(version(new ResourceKey("Observation", "o" + i), 1));
    }
    outbox.close();
    outbox = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC());
    assertThat(pending("Observation")).hasSize(100);
    assertThat(outbox.backlog(1_000))
        .singleElement()
        .satisfies(b -> assertThat(b.pending()).isEqualTo(100));
  }

  @Test
  void aChunkOfChanges_isJudgedChangeByChange_againstWhatIsPendingForwardedAndEarlierInTheChunk() {
    ResourceKey forwarded = new ResourceKey("Observation", "forwarded");
    ResourceKey pendingOne = new ResourceKey("Observation", "pending");
    ResourceKey twice = new ResourceKey("Observation", "twice");
    ResourceKey deleted = new ResourceKey("Observation", "deleted");
    append(version(forwarded, 5));
    outbox.acknowledge(pending("Observation"));
    append(version(pendingOne, 3));

    List<Disposition> dispositions = outbox.append(List.of(
        version(forwarded, 4),
        version(pendingOne, 2),
        version(twice, 2),
        version(twice, 1),
        version(twice, 3),
        version(deleted, 7),
        Change.delete(deleted, VersionStamp.UNKNOWN),
        version(deleted, 7))).join();

    assertThat(dispositions).containsExactly(
        Disposition.STALE, Disposition.STALE,
        Disposition.QUEUED, Disposition.STALE, Disposition.REPLACED,
        Disposition.QUEUED, Disposition.REPLACED, Disposition.STALE);
    assertThat(pending("Observation"))
        .extracting(p -> p.key().id(), p -> p.operation(), p -> p.change().stamp().versionNumber())
        .containsExactlyInAnyOrder(
            tuple("pending", Operation.UPSERT, 3L),
            tuple("twice", Operation.UPSERT, 3L),
            tuple("deleted", Operation.DELETE, 8L));
  }

  @Test
  void pendingUpTo_countsRowsOfEveryTypeFirstQueuedByThen_evenAfterTheyAreReplaced() {
    append(version(new ResourceKey("Patient", "p1"), 1));
    append(version(new ResourceKey("Observation", "o1"), 1));
    long mark = outbox.lastSeq();
    append(version(new ResourceKey("Observation", "o2"), 1));
    append(version(new ResourceKey("Patient", "p1"), 2));

    assertThat(outbox.pendingUpTo(mark)).isEqualTo(2);
    outbox.acknowledge(pending("Patient"));
    assertThat(outbox.pendingUpTo(mark)).isEqualTo(1);
    assertThat(outbox.pendingUpTo(outbox.lastSeq())).isEqualTo(2);
  }

  @Test
  void backlog_namesEachTypeWithItsOldestArrival_andCountsOnlyUpToTheCap() throws Exception {
    for (int i = 0; i < 30; i++) {
      append(version(new ResourceKey("Observation", "o" + i), 1));
    }
    Instant patientsFrom = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    append(version(new ResourceKey("Patient", "p1"), 1));
    append(version(new ResourceKey("Patient", "p2"), 1));
    append(version(new ResourceKey("Encounter", "e1"), 1));
    outbox.acknowledge(pending("Encounter"));

    assertThat(outbox.backlog(10))
        .extracting(TypeBacklog::type, TypeBacklog::pending)
        .containsExactly(tuple("Observation", 10L), tuple("Patient", 2L));
    assertThat(outbox.backlog(10).get(1).oldestReceivedAt()).isAfterOrEqualTo(patientsFrom);
    // the newest arrival: p2, queued after p1
    assertThat(outbox.backlog(10).get(1).newestReceivedAt())
        .isAfterOrEqualTo(outbox.backlog(10).get(1).oldestReceivedAt());
    Instant observationsFrom = outbox.backlog(10).get(0).oldestReceivedAt();
    assertThat(outbox.backlog(10).get(0).newestReceivedAt()).isAfterOrEqualTo(observationsFrom)
        .isBeforeOrEqualTo(patientsFrom);
  }

  @Test
  void oldest_returnsChangesInArrivalOrder_andAnUpdatedResourceKeepsItsPlace() {
    ResourceKey a = new ResourceKey("Patient", "a");
    ResourceKey b = new ResourceKey("Patient", "b");
    append(version(a, 1));
    append(version(b, 1));
    append(version(a, 2));
    assertThat(pending("Patient")).extracting(p -> p.key().id()).containsExactly("a", "b");
  }

  @Test
  void aResourceForwardedBefore_queuesAgainBehindThoseAlreadyWaiting() {
    ResourceKey a = new ResourceKey("Patient", "a");
    ResourceKey b = new ResourceKey("Patient", "b");
    append(version(a, 1));
    outbox.acknowledge(pending("Patient"));
    append(version(b, 1));
    assertThat(append(version(a, 2))).isEqualTo(Disposition.QUEUED);
    assertThat(pending("Patient")).extracting(p -> p.key().id()).containsExactly("b", "a");
    assertThat(outbox.stats().pending()).isEqualTo(2);
  }

  @Test
  void anOutboxLeftByARelayBeforeSchema6_keepsItsQueueItsForwardedVersionsAndItsSequence()
      throws Exception {
    outbox.close();
    Path old = dir.resolve("schema-5.db");
    try (java.sql.Connection connection = java.sql.DriverManager.getConnection("jdbc:sqlite:" + old);
        java.sql.Statement sql = connection.createStatement()) {
      Schema.migrate(connection, 5);
      sql.execute("INSERT INTO forwarded VALUES ('Patient', 'p1', 'UPSERT', 7, NULL, 1000)");
      sql.execute("INSERT INTO forwarded VALUES ('Observation', 'o1', 'UPSERT', 1, NULL, 1000)");
      sql.execute("INSERT INTO pending VALUES ('Observation', 'o1', 5, 2, 'UPSERT', 2, NULL,"
          + " '{\"resourceType\":\"Observation\",\"id\":\"o1\"}', 2000, 3000)");
      sql.execute("INSERT INTO pending VALUES ('Observation', 'o2', 1, 1, 'DELETE', NULL, NULL, NULL, 1000, 1000)");
      sql.execute("INSERT INTO counter (name, value) VALUES ('seq', 5)");
    }
    outbox = Outbox.open(old, Clock.systemUTC());

    assertThat(pending("Observation"))
        .extracting(p -> p.key().id(), PendingChange::seq, PendingChange::operation,
            p -> p.change().stamp().versionNumber())
        .containsExactly(tuple("o2", 1L, Operation.DELETE, null), tuple("o1", 5L, Operation.UPSERT, 2L));
    assertThat(pending("Observation").get(1).change().json().text())
        .isEqualTo("{\"resourceType\":\"Observation\",\"id\":\"o1\"}");
    assertThat(outbox.backlog(10)).singleElement()
        .satisfies(b -> assertThat(b.oldestReceivedAt()).isEqualTo(Instant.ofEpochMilli(1000)));
    assertThat(append(version(PATIENT, 7))).isEqualTo(Disposition.STALE);
    assertThat(append(version(PATIENT, 8))).isEqualTo(Disposition.QUEUED);
    assertThat(pending("Patient")).singleElement().satisfies(p -> assertThat(p.seq()).isEqualTo(6L));

    outbox.acknowledge(pending("Observation"));
    assertThat(pending("Observation")).isEmpty();
    assertThat(append(version(new ResourceKey("Observation", "o1"), 2))).isEqualTo(Disposition.STALE);
  }

  @Test
  void concurrentAppends_areAllStoredOnce() throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(16);
    List<CompletableFuture<List<Disposition>>> results = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      Change change = version(new ResourceKey("Observation", "o" + (i % 500)), 1 + i / 500);
      results.add(CompletableFuture.supplyAsync(() -> outbox.append(List.of(change)).join(), threads));
    }
    CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    threads.shutdown();
    assertThat(pending("Observation")).hasSize(500);
    assertThat(pending("Observation"))
        .allSatisfy(p -> assertThat(p.change().stamp().versionNumber()).isEqualTo(4L));
  }

  @Test
  void deadLetter_removesTheChangeFromTheQueue_andRetryPutsItBack() {
    append(version(PATIENT, 2));
    PendingChange refused = pending("Patient").get(0);
    outbox.deadLetter(refused, 400, "{\"resourceType\":\"OperationOutcome\"}");
    assertThat(pending("Patient")).isEmpty();
    assertThat(outbox.list(10))
        .singleElement()
        .satisfies(
            letter -> {
              assertThat(letter.change()).isEqualTo(refused.change());
              assertThat(letter.status()).isEqualTo(400);
              assertThat(letter.reason()).contains("OperationOutcome");
            });
    assertThat(outbox.retry(Optional.of(PATIENT))).isEqualTo(1);
    assertThat(outbox.list(10)).isEmpty();
    assertThat(pending("Patient")).singleElement().satisfies(p -> assertThat(p.change()).isEqualTo(refused.change()));
  }

  @Test
  void deadLetterRetry_doesNotOverwriteANewerPendingVersion() {
    append(version(PATIENT, 2));
    outbox.deadLetter(pending("Patient").get(0), 400, "refused");
    append(version(PATIENT, 3));
    outbox.retry(Optional.empty());
    assertThat(pending("Patient").get(0).change().stamp().versionNumber()).isEqualTo(3L);
  }

  @Test
  void aSecondProcessOnTheSameFile_neverReusesASequenceNumber() throws Exception {
    append(version(PATIENT, 1));
    try (Outbox other = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC())) {
      other.append(List.of(version(new ResourceKey("Patient", "p2"), 1))).join();
    }
    append(version(new ResourceKey("Patient", "p3"), 1));
    assertThat(pending("Patient")).extracting(PendingChange::seq).doesNotHaveDuplicates();
  }

  @Test
  void pings_areCountedAndTimestamped() {
    outbox.recordPing().join();
    outbox.recordPing().join();
    assertThat(outbox.stats().pings()).isEqualTo(2);
    assertThat(outbox.stats().lastPingAt()).isNotNull();
  }
}
