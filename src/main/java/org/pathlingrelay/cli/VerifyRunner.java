package org.pathlingrelay.cli;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.backfill.BackfillProgress;
import org.pathlingrelay.backfill.DeliveryWait;
import org.pathlingrelay.backfill.DeliveryWatch;
import org.pathlingrelay.backfill.ForwardingStalledException;
import org.pathlingrelay.backfill.ForwardingTrouble;
import org.pathlingrelay.forward.Forwarder;
import org.pathlingrelay.forward.ForwarderLock;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.pathling.PathlingServer;
import org.pathlingrelay.pathling.RetriableWriteException;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.SourceListing;
import org.pathlingrelay.verify.Differences;
import org.pathlingrelay.verify.ListingChoice;
import org.pathlingrelay.verify.Repair;
import org.pathlingrelay.verify.TypeComparison;
import org.pathlingrelay.verify.Verifier;
import org.pathlingrelay.verify.VerifyReport;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.Parts;
import org.pathlingrelay.wiring.SourceSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@code verify}. With {@code --repair} it queues the mends in the data dir's outbox and,
 * as a backfill does, forwards them itself unless {@code serve} is forwarding from that data dir;
 * once they are delivered, it checks the types that differed again.
 */
final class VerifyRunner {

  private static final Logger log = LoggerFactory.getLogger(VerifyRunner.class);

  /** Exit code when Pathling differs from the source (after the repair, with {@code --repair}). */
  static final int DIFFERENT = 7;

  private VerifyRunner() {}

  record Request(
      Path dataDir, String sourceUrl, AccessTokens sourceTokens, ForwardingSettings forwarding,
      List<String> types, int pageSize, ListingChoice listing, boolean repair, Duration stallTimeout) {}

  static int run(Request request, boolean json, PrintWriter out) throws Exception {
    Clock clock = Clock.systemUTC();
    Parts parts = new Parts(clock, new SimpleMeterRegistry());
    SourceListing source = parts.sourceListing(request.sourceUrl(), request.sourceTokens());
    PathlingServer pathling = parts.pathling(request.forwarding());
    // One download at a time: a type's files are read one after the other into the comparison.
    BulkExportClient exports = request.listing().mode() == ListingChoice.Mode.SEARCH ? null
        : parts.sourceClient(new SourceSettings(request.sourceUrl(), request.sourceTokens(), 1));
    try {
      Verifier verifier = new Verifier(source, pathling.reader(), request.dataDir(), request.pageSize())
          .withListing(request.listing(), exports);
      VerifyReport report;
      try {
        report = request.repair()
            ? repair(request, parts, source, verifier, clock)
            : VerifyReport.of(verifier.verify(request.types(), Differences.NONE));
      } catch (RetriableWriteException e) {
        // Pathling's reads failed for now, retries spent: one line, not HAPI's stack (nor the
        // source's name, which the FhirClientConnectionException inside would get).
        throw new OperatorMistake(pathlingUnavailable(request.forwarding().pathlingUrl(), e));
      }
      if (json) {
        out.println(report.json());
        out.flush();
      } else {
        report.print(out);
      }
      return report.equal() ? 0 : DIFFERENT;
    } finally {
      pathling.close();
      if (exports != null) {
        exports.close();
      }
    }
  }

  private static String pathlingUnavailable(String url, RetriableWriteException e) {
    if (e.status() != 0) {
      return e.getMessage() + " (Pathling at " + url + ")";
    }
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return "cannot reach Pathling at " + url + ": " + root.getMessage() + " (--pathling-url / PATHLING_URL)";
  }

  private static VerifyReport repair(
      Request request, Parts parts, SourceListing source, Verifier verifier, Clock clock) throws Exception {
    Path dataDir = request.dataDir();
    Optional<ForwarderLock> lock = ForwarderLock.tryAcquire(dataDir);
    try (Outbox outbox = parts.outbox(dataDir)) {
      ForwardingTrouble trouble = lock.isPresent()
          ? ForwardingTrouble.pathlingAt(request.forwarding().pathlingUrl(), clock)
          : ForwardingTrouble.otherProcess(dataDir.toString(), clock);
      Forwarder forwarder = null;
      if (lock.isPresent()) {
        forwarder = parts.forwarder(outbox, request.forwarding(), trouble);
        forwarder.start();
      } else {
        log.info("A relay is already forwarding from {}; the repair only queues changes for it", dataDir);
      }
      try {
        Repair repair = new Repair(source, outbox, parts.fhirContext());
        List<TypeComparison> before = verifier.verify(request.types(), repair);
        long upTo = outbox.lastSeq();
        try {
          new DeliveryWait(outbox, Pause.SLEEP, BackfillProgress.log(),
              new DeliveryWatch(request.stallTimeout(), trouble, clock)).await(upTo);
        } catch (ForwardingStalledException e) {
          throw new OperatorMistake("gave up: " + e.getMessage() + ". " + e.pending() + " change(s) are kept in the"
              + " outbox in " + dataDir + ": run the same command again to resume (wait longer with"
              + " --forward-stall-timeout)", BackfillRunner.GAVE_UP_WAITING);
        }
        List<String> differed = before.stream()
            .filter(TypeComparison::differs).map(TypeComparison::type).toList();
        List<TypeComparison> after = differed.isEmpty() ? List.of() : verifier.verify(differed, Differences.NONE);
        return new VerifyReport(before, Optional.of(repair.counts()), after);
      } finally {
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
