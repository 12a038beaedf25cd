package org.pathlingrelay.backfill;

import java.util.concurrent.atomic.AtomicLong;

/** Running counts for one resource type during a backfill. */
final class TypeTally {
  final AtomicLong exported = new AtomicLong();
  final AtomicLong queued = new AtomicLong();
  final AtomicLong stale = new AtomicLong();
  final AtomicLong deletes = new AtomicLong();
  final AtomicLong errors = new AtomicLong();

  BackfillReport.TypeCounts snapshot(String type) {
    return new BackfillReport.TypeCounts(
        type, exported.get(), queued.get(), stale.get(), deletes.get(), errors.get());
  }
}
