package org.pathlingrelay.forward;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;

/**
 * What one type sends in one turn: at most {@link #REQUESTS} requests, so a slot is never held
 * for long while other types wait. Deletes go one request each (3.4–3.9 s each on Pathling 2.0.1,
 * as long as a Bundle of a thousand upserts), as do upserts in update mode. When both wait, one
 * request goes to the upserts (in batch mode all of them, as one Bundle) and the rest to the oldest
 * deletes: hundreds of pending deletes do not hold a type's new upserts back. Deletes of resources
 * Pathling cannot hold cost no request and all go. Deletes of resources the relay never sent go
 * up to {@value #ASK_MAX} for one request: Pathling is asked which it holds, and only those are
 * deleted (at most {@value #HELD_AFTER_ASK} in the turn). Which changes wait for the next turn does not
 * matter for correctness: each resource has one pending change, and the ones left keep their
 * place at the front of the type's queue.
 */
final class Turn {

  /** Requests per turn (a refused Bundle being halved can add a few). */
  static final int REQUESTS = 2;
  /**
   * Deletes of resources the relay never sent, asked about in one search: Pathling 2.0.1 answers
   * a filter of 50 ids in under a second (an {@code or} of 100 took up to 2.4 s).
   */
  static final int ASK_MAX = 50;
  /** Of those, how many Pathling turned out to hold are deleted in the same turn; the rest wait. */
  static final int HELD_AFTER_ASK = REQUESTS;

  private Turn() {}

  /** How many of a type's oldest changes to read for one turn. */
  static int readLimit(ForwardMode mode, int batchMax) {
    return mode == ForwardMode.UPDATE ? Math.min(REQUESTS, batchMax) : batchMax;
  }

  /** The changes of this turn, from a type's pending changes, oldest first; kept in that order. */
  static List<PendingChange> take(List<PendingChange> oldestFirst, ForwardMode mode) {
    Set<PendingChange> chosen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<PendingChange> paid = oldestFirst.stream().filter(change -> !change.pathlingCannotHold()).toList();
    boolean upserts = paid.stream().anyMatch(Turn::isUpsert);
    boolean deletes = paid.stream().anyMatch(change -> !isUpsert(change));
    int budget = REQUESTS;
    if (upserts && (mode == ForwardMode.BATCH || deletes)) {
      // one request for the upserts: a Bundle of them all, or the oldest in update mode
      paid.stream().filter(Turn::isUpsert).limit(mode == ForwardMode.BATCH ? Long.MAX_VALUE : 1).forEach(chosen::add);
      budget--;
    }
    int asked = 0;
    for (PendingChange change : paid) {
      if (chosen.contains(change) || (mode == ForwardMode.BATCH && isUpsert(change))) {
        continue;
      }
      if (change.askPathling()) {
        // The oldest deletes Pathling is asked about share one search (its first seat costs a request)
        if (asked == 0 && budget == 0) {
          continue;
        }
        if (asked < ASK_MAX) {
          if (asked++ == 0) {
            budget--;
          }
          chosen.add(change);
        }
      } else if (budget > 0) {
        chosen.add(change);
        budget--;
      }
    }
    List<PendingChange> turn = new ArrayList<>();
    for (PendingChange change : oldestFirst) {
      if (change.pathlingCannotHold() || chosen.contains(change)) {
        turn.add(change);
      }
    }
    return turn;
  }

  private static boolean isUpsert(PendingChange change) {
    return change.operation() == Operation.UPSERT;
  }
}
