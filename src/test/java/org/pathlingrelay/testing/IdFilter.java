package org.pathlingrelay.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one FHIRPath filter the fakes understand, as Pathling 2.0.1 takes it in {@code
 * [type]?_query=fhirPath&filter=}: {@code id = 'a' or id = 'b' ...}, the ids to look for.
 */
public final class IdFilter {

  private static final Pattern TERM = Pattern.compile("\\s*id\\s*=\\s*'((?:[^'\\\\]|\\\\.)*)'\\s*");

  private IdFilter() {}

  /** The ids, or empty when the filter is not of that form. */
  public static Optional<List<String>> ids(String filter) {
    if (filter == null || filter.isBlank()) {
      return Optional.empty();
    }
    List<String> ids = new ArrayList<>();
    for (String term : filter.split("\\bor\\b", -1)) {
      Matcher matcher = TERM.matcher(term);
      if (!matcher.matches()) {
        return Optional.empty();
      }
      ids.add(matcher.group(1).replaceAll("\\\\(.)", "$1"));
    }
    return Optional.of(ids);
  }
}
