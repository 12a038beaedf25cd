package org.pathlingrelay.forward;

import java.util.ArrayList;
import java.util.List;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;

/**
 * What one type sends in one turn: at most {@link #REQUESTS} requests, so a slot is never held
 * for long while other types wait. Deletes go one request each (a few seconds each on Pathling),
 * as do upserts in update mode; a backlog of them used to keep a slot for as many requests as the
 * batch maximum. In batch mode the upserts of the oldest changes go as one Bundle (one request)
 * and the rest of the budget goes to the oldest deletes. Which changes wait for the next turn does
 * not matter for correctness: each resource has one pending change, and the ones left keep their
 * place at the front of the type's queue.
 */
final class Turn {

  /** Requests per turn (a refused Bundle being halved can add a few). */
  static final int REQUESTS = 2;

  private Turn() {}

  /** How many of a type's oldest changes to read for one turn. */
  static int readLimit(ForwardMode mode, int batchMax) {
    return mode == ForwardMode.UPDATE ? Math.min(REQUESTS, batchMax) : batchMax;
  }

  /** The changes of this turn, from a type's pending changes, oldest first. */
  static List<PendingChange> take(List<PendingChange> oldestFirst, ForwardMode mode) {
    List<PendingChange> turn = new ArrayList<>();
    int requests = 0;
    boolean batchCounted = false;
    for (PendingChange change : oldestFirst) {
      boolean joinsBatch = mode == ForwardMode.BATCH && change.operation() == Operation.UPSERT;
      if (joinsBatch && batchCounted) {
        turn.add(change);
      } else if (requests < REQUESTS) {
        turn.add(change);
        requests++;
        batchCounted |= joinsBatch;
      } else if (!batchCounted) {
        break; // the budget is spent and no Bundle is going that later upserts could join
      }
    }
    return turn;
  }
}
