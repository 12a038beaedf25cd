package org.pathlingrelay.outbox;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Where changes enter the outbox: what a backfill loads, and the changes receive is notified of. */
public interface ChangeAppender {

  /**
   * Stores changes durably. The future completes only after the transaction holding them has been
   * committed and synced to disk; it fails with {@link OutboxUnavailableException} when that is not
   * possible, and then nothing of these changes was stored.
   */
  CompletableFuture<List<Disposition>> append(List<Change> changes);

  /**
   * Stores changes as {@link #append} does, but whatever was forwarded before: for a repair that
   * has just seen Pathling lack (or hold an older copy of) what the relay once sent it. A pending
   * change of the same version or newer still wins: it is on its way already.
   */
  CompletableFuture<List<Disposition>> resend(List<Change> changes);

  /**
   * Records that a bulk load put these types (all when empty) into Pathling, so that deletes of
   * resources of them queued before are sent even where the relay never forwarded them.
   */
  CompletableFuture<Void> recordBulkLoad(Collection<String> types);

  /**
   * Records that a bulk load of these types (all when empty) is starting: until it is recorded as
   * done, Pathling may hold anything of them, and every delete of them is sent.
   */
  CompletableFuture<Void> recordBulkLoadStarting(Collection<String> types);

  /**
   * Records that a check has just seen Pathling hold resources of these types that the relay
   * does not account for: deletes of them queued from now on are sent, as after a bulk load. Kept
   * apart from the bulk loads' marks, so that it never cuts short a load still running.
   */
  CompletableFuture<Void> recordSeenInPathling(Collection<String> types);
}
