package org.pathlingrelay.cli;

import ca.uhn.fhir.context.FhirContext;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.commons.text.similarity.LevenshteinDistance;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Checks what an export is asked for before anything runs: a misspelt {@code --type} would
 * export nothing and succeed, a {@code --since} in the future would find nothing.
 */
final class ResourceTypeNames {

  private static final Set<String> R4 = FhirContext.forR4Cached().getResourceTypes();

  private ResourceTypeNames() {}

  /** The types, each an R4 resource type; else a usage error naming the nearest valid one. */
  static List<String> checked(CommandSpec spec, List<String> types) {
    return checked(spec, "--type", types);
  }

  /** The same, for an option of another name. */
  static List<String> checked(CommandSpec spec, String option, List<String> types) {
    if (types == null) {
      return List.of();
    }
    for (String type : types) {
      if (!R4.contains(type)) {
        throw new ParameterException(spec.commandLine(), option + " " + type + " is not a FHIR R4 resource type"
            + nearest(type).map(name -> "; did you mean " + name + "?").orElse(""));
      }
    }
    return List.copyOf(types);
  }

  static Optional<Instant> checkedSince(CommandSpec spec, Instant since, InstantSource clock) {
    if (since != null && since.isAfter(clock.instant())) {
      throw new ParameterException(spec.commandLine(), "--since " + since + " is in the future: nothing has changed since then");
    }
    return Optional.ofNullable(since);
  }

  private static Optional<String> nearest(String type) {
    LevenshteinDistance distance = LevenshteinDistance.getDefaultInstance();
    String lower = type.toLowerCase();
    return R4.stream()
        .min(Comparator.comparingInt((String name) -> distance.apply(lower, name.toLowerCase())).thenComparing(name -> name));
  }
}
