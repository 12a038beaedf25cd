package org.pathlingrelay.outbox;

/** What a change asks Pathling to do with a resource. */
public enum Operation {
  UPSERT,
  DELETE
}
