package org.pathlingrelay.outbox;

import java.util.Objects;

/** Identifies one resource on the source and in Pathling: {@code Type/id}. */
public record ResourceKey(String type, String id) {

  public ResourceKey {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(id, "id");
  }

  @Override
  public String toString() {
    return type + "/" + id;
  }
}
