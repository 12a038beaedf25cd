package org.pathlingrelay.cli;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.pathlingrelay.backfill.Backfill;
import org.pathlingrelay.backfill.BackfillBusyException;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.BackfillProgress;
import org.pathlingrelay.backfill.BackfillReport;
import org.pathlingrelay.backfill.DeliveryWatch;
import org.pathlingrelay.backfill.ForwardingHold;
import org.pathlingrelay.backfill.ForwardingStalledException;
import org.pathlingrelay.backfill.ForwardingTrouble;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.backfill.StagingAreas;
import org.pathlingrelay.forward.Forwarder;
import org.pathlingrelay.forward.ForwarderLock;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.Parts;
import org.pathlingrelay.wiring.SourceSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one backfill from the command line. If no relay is forwarding from the data dir, it runs a
 * forwarder of its own until everything it queued has reached Pathling; if {@code serve} is
 * running on the same data dir, it only queues and lets that process forward.
 */
final class BackfillRunner {

  private static final Logger log = LoggerFactory.getLogger(BackfillRunner.class);

  private BackfillRunner() {}

  /** The plan is built once the stored watermark is known (a sync starts from it). */
  interface PlanMaker {
    BackfillPlan plan(Optional<Instant> watermark);
  }

  /** Exit codes besides 0 (done) and picocli's 1 and 2. */
  static final int SOURCE_ERRORS = 3;
  static final int DEAD_LETTERS = 4;
  static final int GAVE_UP_WAITING = 5;
  static final int BUSY = 6;
  static final int STOPPED = 130;

  static int run(
      Path dataDir, SourceSettings source, ForwardingSettings forwarding, PlanMaker planMaker, PrintWriter out)
      throws Exception {
    return run(
        dataDir, source, forwarding, planMaker, StagingAreas.localOnly(), LoadOptions.DEFAULT_STALL_TIMEOUT, out);
  }

  /** @param stallTimeout give up when nothing reaches Pathling for this long */
  static int run(
      Path dataDir, SourceSettings source, ForwardingSettings forwarding, PlanMaker planMaker,
      StagingAreas stagingAreas, Duration stallTimeout, PrintWriter out)
      throws Exception {
    CountDownLatch cleanedUp = new CountDownLatch(1);
    try {
      return run(dataDir, source, forwarding, planMaker, stagingAreas, stallTimeout, out, cleanedUp);
    } finally {
      cleanedUp.countDown();
    }
  }

  private static int run(
      Path dataDir, SourceSettings source, ForwardingSettings forwarding, PlanMaker planMaker,
      StagingAreas stagingAreas, Duration stallTimeout, PrintWriter out,
      CountDownLatch cleanedUp)
      throws Exception {
    Clock clock = Clock.systemUTC();
    Parts parts = new Parts(clock, new SimpleMeterRegistry());
    Optional<ForwarderLock> lock = ForwarderLock.tryAcquire(dataDir);
    try (Outbox outbox = parts.outbox(dataDir);
        BulkExportClient client = parts.sourceClient(source)) {
      Forwarder forwarder = null;
      ForwardingTrouble trouble = lock.isPresent()
          ? ForwardingTrouble.pathlingAt(forwarding.pathlingUrl(), clock)
          : ForwardingTrouble.otherProcess(dataDir.toString(), clock);
      if (lock.isPresent()) {
        forwarder = parts.forwarder(outbox, forwarding, trouble);
        forwarder.start();
      } else {
        log.info("A relay is already forwarding from {}; this backfill only queues changes for it", dataDir);
      }
      BackfillProgress progress = TerminalProgress.forConsole();
      try {
        Forwarder ownForwarder = forwarder;
        ForwardingHold hold = ownForwarder == null ? ForwardingHold.NONE : ownForwarder::hold;
        Backfill backfill = parts.backfill(
            client, outbox, dataDir, forwarding, stagingAreas, hold, progress,
            new DeliveryWatch(stallTimeout, trouble, clock));
        Optional<Instant> watermark = backfill.watermark();
        BackfillPlan plan = planMaker.plan(watermark);
        if (plan.sync() && watermark.isEmpty()) {
          out.println("No watermark in " + dataDir + ": no backfill or sync has completed there, so this sync"
              + " exports everything, as a backfill does.");
          out.flush();
        }
        // Ctrl-C: interrupt the run, so that an export still being prepared is cancelled on the
        // source (DELETE of its status URL) and the journal is left consistent for a resume.
        Thread runner = Thread.currentThread();
        Thread interrupter = new Thread(() -> {
          runner.interrupt();
          try {
            // Not runner.join(): once cleaned up, the runner goes on to System.exit, which blocks
            // while this hook runs, so a join would always wait out its full timeout.
            cleanedUp.await(15, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "backfill-shutdown");
        Runtime.getRuntime().addShutdownHook(interrupter);
        if (plan.load() != LoadMode.RELAY && ownForwarder == null) {
          // Pathling fails overlapping writes, and the other process would forward live changes
          // during the import: refuse rather than race.
          throw new OperatorMistake(
              "--load " + plan.load().name().toLowerCase() + " writes to Pathling directly, and a relay is"
                  + " forwarding from " + dataDir + ": stop it first, or use --load relay", BUSY);
        }
        try {
          long deadLettersBefore = outbox.stats().deadLetters();
          BackfillReport report = backfill.run(plan);
          report = report.withDeadLettered(Math.max(0, outbox.stats().deadLetters() - deadLettersBefore));
          report.print(out);
          if (report.deadLettered() > 0) {
            CommandHint hint = CommandHint.ofThisProcess();
            out.println("See what Pathling refused, and why:");
            out.println("  " + hint.command(List.of("dead-letters", "list"), "--data-dir", dataDir.toString()));
            out.println("and once fixed, send it again:");
            out.println("  " + hint.command(List.of("dead-letters", "retry", "--all"), "--data-dir", dataDir.toString()));
            out.flush();
            return DEAD_LETTERS;
          }
          return report.sourceErrors().isEmpty() ? 0 : SOURCE_ERRORS;
        } catch (ForwardingStalledException e) {
          throw new OperatorMistake("gave up: " + e.getMessage() + ". " + e.pending() + " change(s) are kept in the"
              + " outbox in " + dataDir + ": run the same command again to resume (wait longer with"
              + " --forward-stall-timeout / RELAY_FORWARD_STALL_TIMEOUT)", GAVE_UP_WAITING);
        } catch (BackfillBusyException e) {
          throw new OperatorMistake(e.getMessage(), BUSY);
        } catch (InterruptedException e) {
          out.println("Stopped. " + backfill.standing());
          out.flush();
          return STOPPED;
        } catch (RuntimeException e) {
          log.error("The backfill failed: {}", e.getMessage());
          throw e;
        } finally {
          try {
            Runtime.getRuntime().removeShutdownHook(interrupter);
          } catch (IllegalStateException shuttingDown) {
            // the hook is running: nothing to remove
          }
        }
      } finally {
        progress.finished();
        if (forwarder != null) {
          forwarder.close();
        }
      }
    } finally {
      if (lock.isPresent()) {
        lock.get().close();
      }
    }
  }
}
