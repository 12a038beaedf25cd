package org.pathlingrelay.verify;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.pathling.PathlingReader;
import org.pathlingrelay.source.BulkExportClient;
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
  private final ListingChoice choice;
  /** The source's Bulk Data client, for the types listed by export; null when none are. */
  private final BulkExportClient exports;

  /**
   * @param scratchDir where the comparison's temporary file goes (the data dir)
   * @param pageSize {@code _count} of each listing request
   */
  public Verifier(SourceListing source, PathlingReader pathling, Path scratchDir, int pageSize) {
    this(source, pathling, scratchDir, pageSize, true, ListingChoice.SEARCH_ONLY, null);
  }

  private Verifier(
      SourceListing source, PathlingReader pathling, Path scratchDir, int pageSize, boolean logTypes,
      ListingChoice choice, BulkExportClient exports) {
    this.source = source;
    this.pathling = pathling;
    this.scratchDir = scratchDir;
    this.pageSize = pageSize;
    this.logTypes = logTypes;
    this.choice = choice;
    this.exports = exports;
  }

  /** The same checks, listing the source's ids by search or by a bulk export as {@code choice} says. */
  public Verifier withListing(ListingChoice choice, BulkExportClient exports) {
    return new Verifier(source, pathling, scratchDir, pageSize, logTypes, choice, exports);
  }

  /**
   * The same checks without a log line per type (nor a long listing's progress, nor a type
   * Pathling does not serve): a check that runs every hour would repeat them; its caller logs
   * what changed instead.
   */
  public Verifier withoutTypeLog() {
    return new Verifier(source, pathling, scratchDir, pageSize, false, choice, exports);
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
    List<String> checked = types.isEmpty()
        ? source.types().stream().filter(type -> !NOT_RELAYED.contains(type)).toList()
        : types;
    // Counted first, all of them, so that one export serves every type that is listed by export.
    Map<String, TypeComparison> unserved = new HashMap<>();
    List<Planned> planned = new ArrayList<>();
    BooleanSupplier exportOffered = memoized(source::offersExport);
    for (String type : checked) {
      OptionalLong pathlingCount = pathling.count(type);
      if (pathlingCount.isEmpty()) {
        long sourceCount = source.count(type);
        if (sourceCount > 0 || !types.isEmpty()) {
          if (logTypes) {
            log.warn("Pathling does not serve {}: the source's {} resource(s) of it cannot be compared", type,
                sourceCount);
          }
          unserved.put(type, TypeComparison.unserved(type, sourceCount));
        }
        continue;
      }
      OptionalLong sourceCount = OptionalLong.empty();
      if (types.isEmpty() && pathlingCount.getAsLong() == 0) {
        sourceCount = OptionalLong.of(source.count(type));
        if (sourceCount.getAsLong() == 0) {
          continue;
        }
      }
      if (choice.needsCounts() && sourceCount.isEmpty()) {
        sourceCount = OptionalLong.of(source.count(type));
      }
      planned.add(new Planned(type, pathlingCount.getAsLong(),
          choice.choose(sourceCount.orElse(0), exportOffered)));
    }
    List<String> exported = planned.stream().filter(p -> p.listing() == Listing.EXPORT).map(Planned::type).toList();
    if (!exported.isEmpty() && exports == null) {
      throw new IllegalStateException("no Bulk Data client to list " + exported + " by export");
    }
    Map<String, TypeComparison> compared = new HashMap<>(unserved);
    try (ComparisonStore store = ComparisonStore.create(scratchDir);
        ExportListing export = exported.isEmpty() ? null : ExportListing.start(exports, exported, logTypes)) {
      for (Planned type : planned) {
        compared.put(type.type(), compare(store, type, export, sink));
      }
    }
    List<TypeComparison> results = new ArrayList<>();
    for (String type : checked) {
      if (compared.containsKey(type)) {
        results.add(compared.get(type));
      }
    }
    return results;
  }

  /** A type to compare, and how its source side is listed. */
  private record Planned(String type, long pathlingCount, Listing listing) {}

  private static BooleanSupplier memoized(BooleanSupplier supplier) {
    Boolean[] answer = new Boolean[1];
    return () -> {
      if (answer[0] == null) {
        answer[0] = supplier.getAsBoolean();
      }
      return answer[0];
    };
  }

  private TypeComparison compare(ComparisonStore store, Planned planned, ExportListing export, Differences sink)
      throws SQLException {
    String type = planned.type();
    store.clear();
    Listed fromSource = new Listed(type, "the source", logTypes);
    if (planned.listing() == Listing.EXPORT) {
      listByExport(store, type, export, fromSource);
    } else {
      source.ids(type, pageSize, page -> fromSource.add(page, rows -> store.addSource(rows)));
    }
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
    TypeComparison result = new TypeComparison(type, tally.sourceIds(), planned.pathlingCount(), tally.missing(),
        tally.stale(), tally.extra(), tally.duplicated(), true, planned.listing(), examples);
    if (logTypes) {
      log.info("{} (listed by {}): source {}, Pathling {}; missing {}, stale {}, extra {}, duplicated {}", type,
          planned.listing().label(), result.sourceCount(), result.pathlingCount(), result.missing(), result.stale(),
          result.extra(), result.duplicated());
    }
    return result;
  }

  /**
   * The export's files, then a search for what changed since its transaction time: a resource
   * created after the export (and relayed to Pathling since) would count as extra, and a repair
   * would delete it there. One deleted since stays listed: missing or stale at worst, and a
   * repair reads the source again before it sends anything.
   */
  private void listByExport(ComparisonStore store, String type, ExportListing export, Listed fromSource) {
    try {
      ExportRows rows = new ExportRows(pageSize);
      export.list(type, rows, batch -> fromSource.addRows(batch, store::addSource));
      Instant since = export.transactionTime();
      source.idsSince(type, since, pageSize, page -> fromSource.add(page, store::addSource));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the source's export", e);
    }
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
      addRows(page.stream().map(ListedRow::of).toList(), sink);
    }

    void addRows(List<ListedRow> page, RowSink sink) {
      try {
        sink.add(page);
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
