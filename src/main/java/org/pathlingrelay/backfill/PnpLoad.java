package org.pathlingrelay.backfill;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.pathlingrelay.outbox.ChangeAppender;
import org.pathlingrelay.pathling.PathlingImportClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --load pnp}: Pathling's {@code $import-pnp} exports from the source itself; the relay
 * pauses forwarding, kicks the job off, journals it and waits for it.
 */
final class PnpLoad implements Load {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);

  private final String sourceBaseUrl;
  private final PathlingImportClient pathling;
  private final ForwardingHold hold;
  private final ChangeAppender bulkLoads;
  private final Journal journal;
  private final InstantSource clock;

  PnpLoad(String sourceBaseUrl, PathlingImportClient pathling, ForwardingHold hold, ChangeAppender bulkLoads,
      Journal journal, InstantSource clock) {
    this.sourceBaseUrl = sourceBaseUrl;
    this.pathling = pathling;
    this.hold = hold;
    this.bulkLoads = bulkLoads;
    this.journal = journal;
    this.clock = clock;
  }

  @Override
  public BackfillReport run(BackfillPlan plan) throws InterruptedException {
    Instant started = clock.instant();
    String fingerprint = plan.fingerprint();
    Optional<Journal.Run> previous = journal.run().filter(run -> run.fingerprint().equals(fingerprint));
    AutoCloseable held = hold.hold(Set.copyOf(plan.request().types()));
    try {
      // The watermark is the instant before the kick-off: Pathling's export from the source reads
      // a snapshot at least that new. The $job result's transactionTime is when Pathling ran the
      // import, minutes later: a change made in between would be in neither this load nor the next sync.
      Instant kickedOffAt;
      URI job;
      if (previous.isPresent() && previous.get().importJobUrl() != null) {
        job = URI.create(previous.get().importJobUrl());
        kickedOffAt = previous.get().kickedOffAt();
        log.info("Resuming the wait for Pathling's $import-pnp job at {}", job);
      } else {
        kickedOffAt = clock.instant();
        bulkLoads.recordBulkLoadStarting(plan.request().types()).join();
        job = pathling.kickOffPnp(sourceBaseUrl, plan.saveMode(), plan.request().types(), plan.request().since());
        journal.start(fingerprint, job.toString(), kickedOffAt);
        journal.importStarted(job.toString(), 1);
        log.info("Pathling $import-pnp from {} started; polling {}", sourceBaseUrl, job);
      }
      try {
        pathling.awaitJob(job, text -> log.info("Pathling import in progress: {}", text));
      } catch (PathlingImportClient.ImportFailedException e) {
        journal.abandon();
        throw e;
      }
      // Pathling may now hold any resource of these types: their deletes must all be sent.
      bulkLoads.recordBulkLoad(plan.request().types()).join();
      // A journal written before the kick-off time was kept has no safe watermark: keep the old one.
      journal.complete(Optional.ofNullable(kickedOffAt));
      Instant watermark = journal.watermark().orElse(null);
      return new BackfillReport(watermark, List.of(), List.of(), true, Duration.between(started, clock.instant()),
          0, previous.isPresent(), Optional.of(plan.request().types()), 0);
    } finally {
      ForwardingHold.release(held);
    }
  }
}
