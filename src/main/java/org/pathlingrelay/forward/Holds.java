package org.pathlingrelay.forward;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which types other writers (bulk imports) own for now, counted, since two imports may hold the same
 * type and the first to finish must not release the other's. An empty set of types means all of
 * them.
 *
 * @param everything how many holds of every type are open
 * @param types how many holds of each named type are open (never zero)
 */
record Holds(int everything, Map<String, Integer> types) {

  static final Holds NONE = new Holds(0, Map.of());

  Holds {
    types = Map.copyOf(types);
  }

  boolean covers(String type) {
    return everything > 0 || types.containsKey(type);
  }

  Holds plus(Set<String> held) {
    if (held.isEmpty()) {
      return new Holds(everything + 1, types);
    }
    Map<String, Integer> more = new HashMap<>(types);
    held.forEach(type -> more.merge(type, 1, Integer::sum));
    return new Holds(everything, more);
  }

  Holds minus(Set<String> held) {
    if (held.isEmpty()) {
      if (everything == 0) {
        throw new IllegalStateException("no hold of every type is open");
      }
      return new Holds(everything - 1, types);
    }
    Map<String, Integer> fewer = new HashMap<>(types);
    for (String type : held) {
      if (!fewer.containsKey(type)) {
        throw new IllegalStateException("no hold of " + type + " is open");
      }
      fewer.computeIfPresent(type, (t, n) -> n == 1 ? null : n - 1);
    }
    return new Holds(everything, fewer);
  }
}
