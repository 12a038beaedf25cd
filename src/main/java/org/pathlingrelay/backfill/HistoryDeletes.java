package org.pathlingrelay.backfill;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.source.ExportManifest;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.source.SourceHistory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Queues the deletes a {@code _since} export cannot carry: HAPI JPA lists no deleted resources in
 * an export (and writes no {@code deleted} files), but keeps them in its {@code _history}. Each
 * delete carries the version it created, so the outbox's guard lets a later re-creation win.
 */
final class HistoryDeletes {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  /** Where the source's history comes from; none for tests and sources without one. */
  static final HistoryDeletes NONE = new HistoryDeletes(null, null);

  private final SourceHistory history;
  private final OutboxLoader outbox;

  HistoryDeletes(SourceHistory history, OutboxLoader outbox) {
    this.history = history;
    this.outbox = outbox;
  }

  /**
   * For an export with {@code _since} whose manifest lists no deleted files: the deletes since
   * then, from the history, into the outbox.
   */
  void queue(ExportRequest request, ExportManifest manifest, LoadCounts counts) {
    if (history == null || request.since().isEmpty() || !manifest.deleted().isEmpty()) {
      return;
    }
    Instant since = request.since().get();
    Optional<List<SourceHistory.Deletion>> deletions = history.deletedSince(since, request.types());
    if (deletions.isEmpty()) {
      log.warn("The source lists no deleted files and answers no _history: resources deleted there since {} stay"
          + " in Pathling until a full backfill (see the README, \"Deletes on sync\")", since);
      return;
    }
    List<Change> deletes = deletions.get().stream()
        .map(d -> Change.delete(new ResourceKey(d.type(), d.id()), new VersionStamp(d.version().orElse(null), null)))
        .toList();
    log.info("{} resource(s) deleted on the source since {}, from its _history", deletes.size(), since);
    outbox.queueDeletes(deletes, counts);
  }
}
