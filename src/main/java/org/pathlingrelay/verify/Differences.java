package org.pathlingrelay.verify;

/** Where a check hands each difference as it finds it: a repair, or nothing. */
public interface Differences {

  Differences NONE = (type, kind, id) -> {};

  void found(String type, DifferenceKind kind, String id);

  /** Every difference of the type has been handed on: a repair sends what it holds of it. */
  default void typeDone(String type) {}
}
