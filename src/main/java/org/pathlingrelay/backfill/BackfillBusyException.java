package org.pathlingrelay.backfill;

/** Another backfill, sync or catch-up holds the data dir: two would export the same data twice. */
public final class BackfillBusyException extends RuntimeException {

  BackfillBusyException(String message) {
    super(message, null, false, false);
  }
}
