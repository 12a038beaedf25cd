package org.pathlingrelay.verify;

/** How Pathling's copy of one resource differs from the source's. */
public enum DifferenceKind {
  /** In the source, not in Pathling. */
  MISSING,
  /** Pathling holds an older version than the source. */
  STALE,
  /** In Pathling, gone from the source. */
  EXTRA,
  /** Pathling holds the id in more than one row. */
  DUPLICATED
}
