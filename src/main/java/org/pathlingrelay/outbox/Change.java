package org.pathlingrelay.outbox;

import java.util.Objects;

/**
 * One change to one resource, as received: an upsert carries the resource as FHIR JSON, a delete
 * carries nothing.
 */
public record Change(ResourceKey key, Operation operation, VersionStamp stamp, ResourceJson json) {

  public Change {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(operation, "operation");
    Objects.requireNonNull(stamp, "stamp");
    if (operation == Operation.UPSERT && json == null) {
      throw new IllegalArgumentException("an upsert needs the resource body");
    }
    if (operation == Operation.DELETE && json != null) {
      throw new IllegalArgumentException("a delete carries no body");
    }
  }

  public static Change upsert(ResourceKey key, VersionStamp stamp, ResourceJson json) {
    return new Change(key, Operation.UPSERT, stamp, json);
  }

  public static Change upsert(ResourceKey key, VersionStamp stamp, String json) {
    return upsert(key, stamp, ResourceJson.of(json));
  }

  /** The resource as text; null for a delete. */
  public String body() {
    return json == null ? null : json.text();
  }

  public static Change delete(ResourceKey key, VersionStamp stamp) {
    return new Change(key, Operation.DELETE, stamp, null);
  }
}
