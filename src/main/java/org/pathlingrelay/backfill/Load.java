package org.pathlingrelay.backfill;

/**
 * One way of getting a plan's data into Pathling, one class per {@link LoadMode}: through the
 * outbox ({@link RelayLoad}), staged files and {@code $import} ({@link ImportLoad}), or Pathling's
 * own export from the source ({@link PnpLoad}). {@link Backfill} picks one per run.
 */
interface Load {

  /** Runs the plan, or resumes the journal's run of it; the caller holds the data dir's run lock. */
  BackfillReport run(BackfillPlan plan) throws InterruptedException;
}
