package org.pathlingrelay.verify;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * One type's check.
 *
 * @param sourceCount the ids the source listed
 * @param pathlingCount Pathling's rows ({@code _summary=count}): an id held twice counts twice
 * @param pathlingServes false when Pathling refused the type: nothing of it was compared
 * @param listing how the source's ids were listed (a type Pathling refuses is only counted)
 * @param examples the first few ids of each kind of difference
 */
public record TypeComparison(
    String type,
    long sourceCount,
    long pathlingCount,
    long missing,
    long stale,
    long extra,
    long duplicated,
    boolean pathlingServes,
    Listing listing,
    Map<DifferenceKind, List<String>> examples) {

  public TypeComparison {
    // In the kinds' order, so that the table and the JSON list them the same way every time.
    EnumMap<DifferenceKind, List<String>> ordered = new EnumMap<>(DifferenceKind.class);
    examples.forEach((kind, ids) -> ordered.put(kind, List.copyOf(ids)));
    examples = Collections.unmodifiableMap(ordered);
  }

  /** A type Pathling refuses: it cannot hold the source's resources of it. */
  static TypeComparison unserved(String type, long sourceCount) {
    return new TypeComparison(type, sourceCount, 0, 0, 0, 0, 0, false, Listing.SEARCH, Map.of());
  }

  public boolean differs() {
    return missing + stale + extra + duplicated > 0;
  }

  public long count(DifferenceKind kind) {
    return switch (kind) {
      case MISSING -> missing;
      case STALE -> stale;
      case EXTRA -> extra;
      case DUPLICATED -> duplicated;
    };
  }
}
