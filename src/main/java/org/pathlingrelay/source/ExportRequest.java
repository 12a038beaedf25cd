package org.pathlingrelay.source;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What to export: the whole system, all patients, or one group; optionally some types, changes
 * since an instant, and type filters.
 */
public record ExportRequest(
    Level level,
    Optional<String> groupId,
    List<String> types,
    Optional<Instant> since,
    List<String> typeFilters) {

  /** The three kick-off endpoints of the Bulk Data Access IG. */
  public enum Level {
    SYSTEM,
    PATIENT,
    GROUP
  }

  public ExportRequest {
    types = List.copyOf(types);
    typeFilters = List.copyOf(typeFilters);
    if (level == Level.GROUP && groupId.isEmpty()) {
      throw new IllegalArgumentException("a group export needs the group's id");
    }
  }

  public static ExportRequest system(List<String> types, Optional<Instant> since) {
    return new ExportRequest(Level.SYSTEM, Optional.empty(), types, since, List.of());
  }

  /** The kick-off path below the base URL. */
  String path() {
    return switch (level) {
      case SYSTEM -> "$export";
      case PATIENT -> "Patient/$export";
      case GROUP -> "Group/" + groupId.orElseThrow() + "/$export";
    };
  }
}
