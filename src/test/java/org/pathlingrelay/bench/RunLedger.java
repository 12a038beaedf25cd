package org.pathlingrelay.bench;

import java.security.SecureRandom;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What one {@code bench --pathling-url} run has put into a real Pathling: every id it writes
 * starts with the run's own {@link #prefix()}, and the ledger keeps the {@code Type/id} of each
 * resource Pathling may hold now (written, or a write that failed and may have landed; not since
 * deleted), so that cleanup deletes exactly those and nothing else.
 */
final class RunLedger {

  private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

  private final String prefix;
  private final Set<String> mayHold = ConcurrentHashMap.newKeySet();

  RunLedger(String prefix) {
    this.prefix = prefix;
  }

  /** A ledger with a fresh prefix, {@code bench-<6 random>-}. */
  static RunLedger fresh() {
    SecureRandom random = new SecureRandom();
    StringBuilder id = new StringBuilder("bench-");
    for (int i = 0; i < 6; i++) {
      id.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return new RunLedger(id.append('-').toString().toLowerCase(Locale.ROOT));
  }

  String prefix() {
    return prefix;
  }

  /** Records keys a write names; keys of other ids than the run's are not the run's to clean. */
  void mayHold(Collection<String> keys) {
    for (String key : keys) {
      if (ours(key)) {
        mayHold.add(key);
      }
    }
  }

  void gone(Collection<String> keys) {
    mayHold.removeAll(keys);
  }

  /** The run's resources Pathling may hold, by type then id. */
  List<String> held() {
    return mayHold.stream().sorted(Comparator.naturalOrder()).toList();
  }

  private boolean ours(String key) {
    int slash = key.indexOf('/');
    return slash > 0 && key.startsWith(prefix, slash + 1);
  }
}
