package org.pathlingrelay.source;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What to export: the whole system, all patients, or one group; optionally some types, changes
 * since an instant, type filters, and the elements each resource is cut down to.
 *
 * @param elements {@code _elements} (optional in the Bulk Data IG, which lets a server ignore it):
 *     empty for whole resources
 */
public record ExportRequest(
    Level level,
    Optional<String> groupId,
    List<String> types,
    Optional<Instant> since,
    List<String> typeFilters,
    List<String> elements) {

  /** The three kick-off endpoints of the Bulk Data Access IG. */
  public enum Level {
    SYSTEM,
    PATIENT,
    GROUP
  }

  public ExportRequest {
    types = List.copyOf(types);
    typeFilters = List.copyOf(typeFilters);
    elements = List.copyOf(elements);
    if (level == Level.GROUP && groupId.isEmpty()) {
      throw new IllegalArgumentException("a group export needs the group's id");
    }
  }

  public static ExportRequest system(List<String> types, Optional<Instant> since) {
    return new ExportRequest(Level.SYSTEM, Optional.empty(), types, since, List.of(), List.of());
  }

  /** The same request with {@code _elements}. */
  public ExportRequest withElements(List<String> elements) {
    return new ExportRequest(level, groupId, types, since, typeFilters, elements);
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
