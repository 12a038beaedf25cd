package org.pathlingrelay.backfill;

import java.util.Set;

/**
 * Pauses forwarding of some types (all when empty) while Pathling loads them in bulk, so that
 * the import and live writes never overlap, and live changes go out after the import.
 */
@FunctionalInterface
public interface ForwardingHold {

  AutoCloseable hold(Set<String> types) throws InterruptedException;

  /** For a process that does not forward (another process does): nothing to pause here. */
  ForwardingHold NONE = types -> () -> {};

  /** Ends a hold; a load releases it once its part is done, and again on the way out (harmless). */
  static void release(AutoCloseable held) {
    try {
      held.close();
    } catch (Exception e) {
      throw new IllegalStateException("cannot resume forwarding: " + e.getMessage(), e);
    }
  }
}
