package org.pathlingrelay.forward;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.DeliveryQueue;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.pathling.PathlingCalls;
import org.pathlingrelay.pathling.PathlingWriter;
import org.pathlingrelay.pathling.RejectedWriteException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers the pending changes of one resource type, one request at a time (Pathling fails
 * overlapping writes to a type). Deletes go one by one, because Pathling's batch runs deletes
 * first and fails whole on a missing one; upserts go as batch Bundles, or one PUT each. Whatever
 * Pathling confirmed is acknowledged even when a later request fails.
 */
final class TypeDelivery {

  private static final Logger log = LoggerFactory.getLogger(TypeDelivery.class);

  /** What one delivery did. */
  record Report(int delivered, int deadLettered, int requests) {}

  private final DeliveryQueue outbox;
  private final PathlingWriter writer;
  private final PathlingCalls calls;
  private final ForwardMode mode;
  private final ForwardMetrics metrics;

  private final List<PendingChange> confirmed = new ArrayList<>();
  private int delivered;
  private int deadLettered;
  private int requests;

  TypeDelivery(
      DeliveryQueue outbox,
      PathlingWriter writer,
      PathlingCalls calls,
      ForwardMode mode,
      ForwardMetrics metrics) {
    this.outbox = outbox;
    this.writer = writer;
    this.calls = calls;
    this.mode = mode;
    this.metrics = metrics;
  }

  /** Throws the retriable failure that stopped it; what was confirmed before is acknowledged. */
  Report deliver(String type, List<PendingChange> changes) {
    try {
      List<PendingChange> upserts = new ArrayList<>();
      List<PendingChange> toAsk = new ArrayList<>();
      for (PendingChange change : changes) {
        if (change.pathlingCannotHold()) {
          confirmed.add(change); // Pathling cannot hold it: nothing to delete there
          metrics.deleteSkipped();
        } else if (change.operation() == Operation.DELETE && change.askPathling()) {
          toAsk.add(change);
        } else if (change.operation() == Operation.DELETE) {
          sendOne(change, () -> writer.delete(change.key()));
        } else {
          upserts.add(change);
        }
      }
      deleteWhatPathlingHolds(type, toAsk);
      if (!upserts.isEmpty()) {
        outbox.sending(upserts);
      }
      if (mode == ForwardMode.BATCH) {
        sendBatch(type, upserts);
      } else {
        for (PendingChange upsert : upserts) {
          sendOne(upsert, () -> writer.put(upsert.change()));
        }
      }
    } finally {
      acknowledgeConfirmed();
    }
    return new Report(delivered, deadLettered, requests);
  }

  /**
   * Asks Pathling which of these deletes' resources it holds (one search), acknowledges the
   * others without a request, and deletes the first {@link Turn#HELD_AFTER_ASK} it holds; the
   * rest stay queued for the next turn.
   */
  private void deleteWhatPathlingHolds(String type, List<PendingChange> deletes) {
    if (deletes.isEmpty()) {
      return;
    }
    List<String> ids = deletes.stream().map(change -> change.key().id()).toList();
    requests++;
    Set<String> held = calls.call(() -> writer.held(type, ids));
    int sent = 0;
    for (PendingChange change : deletes) {
      if (!held.contains(change.key().id())) {
        confirmed.add(change);
        metrics.deleteSkipped();
      } else if (sent++ < Turn.HELD_AFTER_ASK) {
        sendOne(change, () -> writer.delete(change.key()));
      }
    }
  }

  /** Sends a batch; when Pathling refuses it, halves it until the refused resources are found. */
  private void sendBatch(String type, List<PendingChange> upserts) {
    if (upserts.isEmpty()) {
      return;
    }
    try {
      List<Change> bundle =
          upserts.stream().map(PendingChange::change).toList();
      request(upserts.size(), () -> writer.putBatch(type, bundle));
      confirmed.addAll(upserts);
    } catch (RejectedWriteException e) {
      if (upserts.size() == 1) {
        deadLetter(upserts.get(0), e);
        return;
      }
      int half = upserts.size() / 2;
      log.info(
          "Pathling refused a batch of {} {}; splitting it to find the resources it refuses",
          upserts.size(),
          type);
      sendBatch(type, upserts.subList(0, half));
      sendBatch(type, upserts.subList(half, upserts.size()));
    }
  }

  private void sendOne(PendingChange change, Runnable write) {
    try {
      request(1, write);
      confirmed.add(change);
    } catch (RejectedWriteException e) {
      deadLetter(change, e);
    }
    if (confirmed.size() >= 500) {
      acknowledgeConfirmed();
    }
  }

  private void request(int size, Runnable write) {
    requests++;
    metrics.request(size, () -> calls.run(write));
  }

  private void deadLetter(PendingChange change, RejectedWriteException e) {
    // An error, for the operator (and Sentry): the reason stays in the dead-letter table, since
    // Pathling's answer may quote the resource.
    log.error("Pathling refused {} with {}; moved to dead letters (the command that lists them is logged at start-up)",
        change.key(), e.status());
    outbox.deadLetter(change, e.status(), e.outcome());
    deadLettered++;
    metrics.deadLettered();
  }

  private void acknowledgeConfirmed() {
    if (confirmed.isEmpty()) {
      return;
    }
    outbox.acknowledge(confirmed);
    delivered += confirmed.size();
    metrics.delivered(confirmed);
    confirmed.clear();
  }
}
