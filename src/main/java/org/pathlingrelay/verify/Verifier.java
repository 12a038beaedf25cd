package org.pathlingrelay.verify;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.pathling.PathlingReader;
import org.pathlingrelay.source.SourceListing;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves, type by type, that Pathling holds what the source holds: both sides' ids with their
 * versions are listed page by page into a {@link ComparisonStore} on disk and compared there, so
 * the heap holds a page at a time, whatever the number of ids.
 */
public final class Verifier {

  private static final Logger log = LoggerFactory.getLogger(Verifier.class);
  /** Ids of each kind kept for the report. */
  static final int EXAMPLES = 5;
  /**
   * Left out unless named: the relay's own Subscriptions live on the source, and no Subscription
   * is ever subscribed to, so Pathling is not meant to hold them.
   */
  private static final Set<String> NOT_RELAYED = Set.of("Subscription");

  private final SourceListing source;
  private final PathlingReader pathling;
  private final Path scratchDir;
  private final int pageSize;
  /** Whether each type's result (and a long listing's progress) is logged: not on a schedule. */
  private final boolean logTypes;

  /**
   * @param scratchDir where the comparison's temporary file goes (the data dir)
   * @param pageSize {@code _count} of each listing request
   */
  public Verifier(SourceListing source, PathlingReader pathling, Path scratchDir, int pageSize) {
    this(source, pathling, scratchDir, pageSize, true);
  }

  private Verifier(SourceListing source, PathlingReader pathling, Path scratchDir, int pageSize, boolean logTypes) {
    this.source = source;
    this.pathling = pathling;
    this.scratchDir = scratchDir;
    this.pageSize = pageSize;
    this.logTypes = logTypes;
  }

  /**
   * The same checks without a log line per type (nor a long listing's progress, nor a type
   * Pathling does not serve): a check that runs every hour would repeat them; its caller logs
   * what changed instead.
   */
  public Verifier withoutTypeLog() {
    return new Verifier(source, pathling, scratchDir, pageSize, false);
  }

  /** Both sides' {@code [type]?_summary=count}. */
  public record Counts(long source, long pathling) {
    /** How far apart they are, whichever side holds more. */
    public long difference() {
      return Math.abs(source - pathling);
    }
  }

  /** Counts only: empty when Pathling does not serve the type (it cannot hold any of it). */
  public Optional<Counts> counts(String type) {
    OptionalLong pathlingCount = pathling.count(type);
    if (pathlingCount.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Counts(source.count(type), pathlingCount.getAsLong()));
  }

  /**
   * @param types the types to check; empty for every type the source serves (Subscription left
   *     out) that either side holds any resource of
   * @param sink told of each difference as it is found
   */
  public List<TypeComparison> verify(List<String> types, Differences sink) throws IOException, SQLException {
    List<TypeComparison> results = new ArrayList<>();
    try (ComparisonStore store = ComparisonStore.create(scratchDir)) {
      List<String> checked = types.isEmpty()
          ? source.types().stream().filter(type -> !NOT_RELAYED.contains(type)).toList()
          : types;
      for (String type : checked) {
        OptionalLong pathlingCount = pathling.count(type);
        if (pathlingCount.isEmpty()) {
          long sourceCount = source.count(type);
          if (sourceCount > 0 || !types.isEmpty()) {
            if (logTypes) {
              log.warn("Pathling does not serve {}: the source's {} resource(s) of it cannot be compared", type,
                  sourceCount);
            }
            results.add(TypeComparison.unserved(type, sourceCount));
          }
          continue;
        }
        if (types.isEmpty() && pathlingCount.getAsLong() == 0 && source.count(type) == 0) {
          continue;
        }
        results.add(compare(store, type, pathlingCount.getAsLong(), sink));
      }
    }
    return results;
  }

  private TypeComparison compare(ComparisonStore store, String type, long pathlingCount, Differences sink)
      throws SQLException {
    store.clear();
    Listed fromSource = new Listed(type, "the source", logTypes);
    source.ids(type, pageSize, page -> fromSource.add(page, rows -> store.addSource(rows)));
    Listed fromPathling = new Listed(type, "Pathling", logTypes);
    pathling.ids(type, pageSize, page -> fromPathling.add(page, rows -> store.addPathling(rows)));
    Map<DifferenceKind, List<String>> examples = new EnumMap<>(DifferenceKind.class);
    ComparisonStore.Tally tally = store.compare(type, (t, kind, id) -> {
      List<String> some = examples.computeIfAbsent(kind, k -> new ArrayList<>());
      if (some.size() < EXAMPLES) {
        some.add(id);
      }
      sink.found(t, kind, id);
    });
    sink.typeDone(type);
    TypeComparison result = new TypeComparison(type, tally.sourceIds(), pathlingCount, tally.missing(),
        tally.stale(), tally.extra(), tally.duplicated(), true, examples);
    if (logTypes) {
      log.info("{}: source {}, Pathling {}; missing {}, stale {}, extra {}, duplicated {}", type,
          result.sourceCount(), result.pathlingCount(), result.missing(), result.stale(), result.extra(),
          result.duplicated());
    }
    return result;
  }

  private interface RowSink {
    void add(List<ListedRow> rows) throws SQLException;
  }

  /** One side's listing of one type as it goes: a log line now and then, so a long one shows life. */
  private static final class Listed {
    private static final long LOG_EVERY = 100_000;

    private final String type;
    private final String side;
    private final boolean logProgress;
    private long rows;

    Listed(String type, String side, boolean logProgress) {
      this.type = type;
      this.side = side;
      this.logProgress = logProgress;
    }

    void add(List<IBaseResource> page, RowSink sink) {
      try {
        sink.add(page.stream().map(ListedRow::of).toList());
      } catch (SQLException e) {
        throw new IllegalStateException("cannot write the comparison's scratch file: " + e.getMessage(), e);
      }
      long before = rows;
      rows += page.size();
      if (logProgress && rows / LOG_EVERY > before / LOG_EVERY) {
        log.info("{}: {} listed from {} so far", type, rows, side);
      }
    }
  }
}
