package org.pathlingrelay.testing;

import java.util.Collection;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pathling's rule for concurrent writes, shared by the test fake and the bench's model: a write
 * that overlaps another write to one of its resource types fails (a Delta conflict) and applies
 * nothing. A write claims all of its types at once, or none.
 */
public final class OneWritePerType {

  private final Set<String> inFlight = new HashSet<>(); // guarded by itself
  private final AtomicLong conflicts = new AtomicLong();

  /**
   * Claims {@code types} for one write; close the claim when the write is done. When another
   * write holds one of them, nothing is claimed and the claim names that type (the first in
   * alphabetical order, so the answer does not depend on the collection's order).
   */
  public Claim claim(Collection<String> types) {
    synchronized (inFlight) {
      for (String type : new TreeSet<>(types)) {
        if (inFlight.contains(type)) {
          conflicts.incrementAndGet();
          return new Claim(this, Set.of(), type);
        }
      }
      Set<String> claimed = Set.copyOf(types);
      inFlight.addAll(claimed);
      return new Claim(this, claimed, null);
    }
  }

  /** Whether a write to {@code type} is in progress right now. */
  public boolean inProgress(String type) {
    synchronized (inFlight) {
      return inFlight.contains(type);
    }
  }

  /** How many claims failed because another write held one of their types. */
  public long conflicts() {
    return conflicts.get();
  }

  public void clearConflicts() {
    conflicts.set(0);
  }

  private void release(Set<String> types) {
    synchronized (inFlight) {
      inFlight.removeAll(types);
    }
  }

  /** The types one write holds until it is closed; or, on a conflict, the type another write held. */
  public static final class Claim implements AutoCloseable {
    private final OneWritePerType rule;
    private final Set<String> types;
    private final String conflictingType;
    private boolean closed;

    private Claim(OneWritePerType rule, Set<String> types, String conflictingType) {
      this.rule = rule;
      this.types = types;
      this.conflictingType = conflictingType;
    }

    /** The type another write held, when this write may not go ahead. */
    public Optional<String> conflict() {
      return Optional.ofNullable(conflictingType);
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        rule.release(types);
      }
    }
  }
}
