package org.pathlingrelay.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.pathlingrelay.testing.PathlingCost;

/**
 * Everything one {@code bench} run needs to know: which parts, how large, how many rounds, and the
 * relay settings under test (the same defaults {@code serve} has).
 *
 * @param parts any of {@code ingest}, {@code forward}, {@code lag}, {@code backfill}
 * @param corpus a folder of Synthea NDJSON files; a small built-in generator stands in when absent
 * @param workDir where outboxes, datasets and staging go (its file system decides what fsync costs)
 */
public record BenchSettings(
    Set<String> parts,
    int rounds,
    Path corpus,
    Path workDir,
    RelayUnderTest relay,
    Ingest ingest,
    Forward forward,
    Lag lag,
    Backfill backfill,
    Optional<Real> real) {

  public static final List<String> ALL_PARTS = List.of("ingest", "forward", "lag", "backfill");
  /** The parts that can run against a real Pathling. */
  public static final List<String> REAL_PARTS = List.of("forward", "lag");

  public BenchSettings {
    parts = Set.copyOf(parts);
    for (String part : parts) {
      if (!ALL_PARTS.contains(part)) {
        throw new IllegalArgumentException("unknown part '" + part + "'; choose from " + String.join(",", ALL_PARTS));
      }
    }
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be at least 1");
    }
    if (real.isPresent() && !REAL_PARTS.containsAll(parts)) {
      throw new IllegalArgumentException("with --pathling-url only " + String.join(",", REAL_PARTS) + " can run");
    }
  }

  /**
   * A real Pathling to measure instead of the modelled one ({@code --pathling-url}).
   *
   * @param batchSizes the sizes of the direct batches whose best throughput is the forward baseline
   */
  public record Real(String pathlingUrl, List<Integer> batchSizes) {

    public Real {
      batchSizes = List.copyOf(batchSizes);
      if (batchSizes.isEmpty() || batchSizes.stream().anyMatch(size -> size < 1)) {
        throw new IllegalArgumentException("--pathling-batch-sizes must be positive");
      }
    }
  }

  /** The relay's own forwarding settings, as {@code serve} would use them. */
  public record RelayUnderTest(int batchMax, Duration linger, int parallelTypes, Duration lingerMax) {}

  /**
   * @param requests notifications per measured round
   * @param warmUp notifications of the warm-up round (not measured)
   * @param concurrency connections the client keeps busy
   * @param forwardToModel point the relay at the modelled Pathling (else at an unreachable port)
   */
  public record Ingest(int requests, int warmUp, int concurrency, boolean forwardToModel) {}

  /**
   * @param batchChanges changes drained in {@code batch} mode
   * @param updateChanges changes drained in {@code update} mode (one commit each: keep it small)
   * @param types how many resource types (the corpus's largest) the changes spread over
   */
  public record Forward(int batchChanges, int updateChanges, int types, PathlingCost cost) {}

  /**
   * A steady, realistic stream: {@code rate} notifications a second for {@code duration}.
   *
   * @param types the busy types (the quiet ones come on top)
   * @param quietTypes how many quiet types
   * @param quietEverySeconds how often each quiet type gets a create
   */
  public record Lag(int rate, Duration duration, int concurrency, PathlingCost cost, int types, int quietTypes,
      int quietEverySeconds) {}

  /**
   * @param resources how many resources the export holds (the corpus multiplied with fresh ids)
   * @param rounds rounds of each load; a load of 500,000 takes minutes
   * @param fileLines resources per export file (HAPI writes 1,000)
   * @param heap the child JVM's {@code -Xmx}
   * @param jvmArgs extra arguments for the child JVMs (e.g. a JFR recording)
   */
  public record Backfill(
      int resources, int rounds, int fileLines, String heap, List<String> jvmArgs, PathlingCost cost) {

    public Backfill {
      jvmArgs = List.copyOf(jvmArgs);
    }
  }
}
