package org.pathlingrelay.verify;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the scheduled checks last settled for one type.
 *
 * @param differences by kind ({@code count}, then {@code missing}, {@code stale}, {@code extra},
 *     {@code duplicated}): only the kinds a check has measured, counts-only checks measuring
 *     {@code count} (the source's count against Pathling's, either way round) alone
 * @param checkedAt when the last check that settled the type ran
 */
public record TypeStanding(
    String type, long sourceCount, long pathlingCount, Map<String, Long> differences, Instant checkedAt) {

  public TypeStanding {
    differences = Collections.unmodifiableMap(new LinkedHashMap<>(differences));
  }

  public boolean differs() {
    return differences.values().stream().anyMatch(value -> value > 0);
  }
}
