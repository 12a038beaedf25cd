package org.pathlingrelay.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which pending deletes need a request to Pathling: only those of resources Pathling may hold.
 * It cannot hold one the relay saw created and never forwarded, nor one whose delete it forwarded;
 * after a bulk load of the type, it may hold anything queued before.
 */
class DeletesThatMatterTest {

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

  @Test
  void createdAndDeletedBeforeAnyForward_needsNoRequest() {
    append(upsert("a", 1), delete("a", 2));

    assertThat(cannotHold("a")).isTrue();
  }

  @Test
  void deleteOfAResourceFirstSeenAtALaterVersion_isSent_PathlingMayHoldItFromBefore() {
    append(upsert("b", 3), delete("b", 4));

    assertThat(cannotHold("b")).isFalse();
  }

  @Test
  void deleteOfAResourceNeverSeenBefore_isSentAfterAskingPathlingWhetherItHoldsIt() {
    append(delete("c", 2));

    assertThat(cannotHold("c")).isFalse();
    assertThat(ask("c")).as("HAPI drops the creation of what was deleted before delivery: only the delete comes").isTrue();
  }

  @Test
  void deleteAfterTheCreationWasForwarded_isSent() {
    append(upsert("d", 1));
    outbox.acknowledge(pending());
    append(delete("d", 2));

    assertThat(cannotHold("d")).isFalse();
    assertThat(ask("d")).as("the relay put it there: no need to ask").isFalse();
  }

  @Test
  void deleteAfterTheCreationWentOutWhileTheDeleteArrived_isSent() {
    append(upsert("e", 1));
    List<PendingChange> inFlight = pending();
    append(delete("e", 2)); // arrives while the creation is on its way to Pathling
    outbox.acknowledge(inFlight);

    assertThat(cannotHold("e")).isFalse();
  }

  @Test
  void deleteOfWhatWasDeletedInPathlingAlready_needsNoRequest() {
    append(upsert("f", 3));
    outbox.acknowledge(pending());
    append(delete("f", 4));
    outbox.acknowledge(pending());
    append(upsert("f", 5)); // re-created, then deleted again before it was forwarded
    append(delete("f", 6));

    assertThat(cannotHold("f")).isTrue();
  }

  @Test
  void afterABulkLoadOfTheType_everyDeleteOfWhatWasQueuedBefore_isSent() {
    append(upsert("g", 1));
    outbox.recordBulkLoad(Set.of("Patient")).join();
    append(delete("g", 2));
    assertThat(cannotHold("g")).as("a load of another type changes nothing").isTrue();

    outbox.recordBulkLoad(Set.of("Observation")).join();
    append(upsert("h", 1), delete("h", 2)); // created after the load: Pathling cannot hold it

    assertThat(cannotHold("g")).isFalse();
    assertThat(ask("g")).as("only the load can have put it there").isTrue();
    assertThat(cannotHold("h")).isTrue();
  }

  @Test
  void afterABulkLoadOfEveryType_aForwardedDeleteMayBeUndone_soTheNextDeleteIsSent() {
    append(upsert("i", 3));
    outbox.acknowledge(pending());
    append(delete("i", 4));
    outbox.acknowledge(pending());
    outbox.recordBulkLoad(List.of()).join();
    append(upsert("i", 5), delete("i", 6));

    assertThat(cannotHold("i")).isFalse();
  }

  @Test
  void aCreationSentButNeverAcknowledged_asWhenTheRelayDiedMidRequest_itsDeleteIsSent() {
    append(upsert("k", 1));
    outbox.sending(pending()); // the request went out; no answer was recorded
    append(delete("k", 2));

    assertThat(cannotHold("k")).isFalse();
    assertThat(ask("k")).as("Pathling may merge it after answering the question").isFalse();
  }

  @Test
  void whileABulkLoadRuns_everyDeleteOfItsTypesIsSent_evenOfResourcesCreatedMeanwhile() {
    outbox.recordBulkLoadStarting(List.of("Observation")).join();
    append(upsert("l", 1), delete("l", 2));
    assertThat(cannotHold("l")).isFalse();

    outbox.recordBulkLoad(List.of("Observation")).join();
    append(upsert("m", 1), delete("m", 2));
    assertThat(cannotHold("l")).isFalse();
    assertThat(cannotHold("m")).isTrue();
  }

  @Test
  void onceACheckSawPathlingHoldTheType_aDeleteOfWhatItDeletedAlready_isSent() {
    append(upsert("n", 3));
    outbox.acknowledge(pending());
    append(delete("n", 4));
    outbox.acknowledge(pending()); // yet someone wrote it into Pathling again by hand
    outbox.recordSeenInPathling(List.of("Observation")).join();
    append(delete("n", 5));

    assertThat(cannotHold("n")).isFalse();
  }

  @Test
  void aCheckDuringABulkLoad_doesNotEndTheLoadsHold() {
    outbox.recordBulkLoadStarting(List.of("Observation")).join();
    outbox.recordSeenInPathling(List.of("Observation")).join();
    append(upsert("o", 1), delete("o", 2)); // created while the load runs

    assertThat(cannotHold("o")).isFalse();
  }

  @Test
  void afterARestart_aCreationQueuedBefore_mayHaveBeenInFlightWhenTheRelayDied_soItsDeleteIsSent()
      throws Exception {
    append(upsert("j", 1));
    outbox.close(); // as if killed while its request was out
    outbox = Outbox.open(dir.resolve("relay.db"), Clock.systemUTC());
    append(delete("j", 2));
    append(upsert("n", 1), delete("n", 2)); // created in this run, never sent

    assertThat(cannotHold("j")).isFalse();
    assertThat(ask("j")).as("the dead process's merge may still be running").isFalse();
    assertThat(cannotHold("n")).isTrue();
  }

  private void append(Change... changes) {
    outbox.append(List.of(changes)).join();
  }

  private List<PendingChange> pending() {
    return outbox.oldest("Observation", 100);
  }

  private boolean cannotHold(String id) {
    return pending().stream().filter(change -> change.key().id().equals(id)).findFirst().orElseThrow()
        .pathlingCannotHold();
  }

  private boolean ask(String id) {
    return pending().stream().filter(change -> change.key().id().equals(id)).findFirst().orElseThrow()
        .askPathling();
  }

  private static Change upsert(String id, long version) {
    return Change.upsert(new ResourceKey("Observation", id), new VersionStamp(version, null),
        "{\"resourceType\":\"Observation\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" + version + "\"}}");
  }

  private static Change delete(String id, long version) {
    return Change.delete(new ResourceKey("Observation", id), new VersionStamp(version, null));
  }
}
