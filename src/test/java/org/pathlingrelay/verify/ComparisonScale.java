package org.pathlingrelay.verify;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Measures the comparison on this machine: {@code n} ids per side written straight into a
 * {@link ComparisonStore} in pages (as the listings write them, without HTTP), then compared. It
 * prints ids compared per second and the peak heap; it asserts nothing. Run it with a small heap
 * to see that the heap does not grow with {@code n}, on a classpath of only what it needs (the
 * whole test classpath makes JDBC load every driver on it, H2's included, which costs more heap
 * than the comparison):
 *
 * <pre>{@code
 * java -XX:+UseSerialGC -Xmx16m -cp target/test-classes:target/classes:<sqlite-jdbc, slf4j-api,
 *     hapi-fhir-base and org.hl7.fhir.utilities jars> org.pathlingrelay.verify.ComparisonScale 1000000
 * }</pre>
 */
public final class ComparisonScale {

  private static final int PAGE = 1000;

  private ComparisonScale() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    Path dir = Files.createTempDirectory("verify-scale");
    System.gc();
    ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
    long start = System.nanoTime();
    Map<DifferenceKind, Long> found = new EnumMap<>(DifferenceKind.class);
    ComparisonStore.Tally tally;
    long loaded;
    try (ComparisonStore store = ComparisonStore.create(dir)) {
      store.clear();
      List<ListedRow> page = new ArrayList<>(PAGE);
      for (int i = 0; i < n; i++) {
        page.add(new ListedRow(id(i), 2L, 1_700_000_000_000L + i));
        if (page.size() == PAGE) {
          store.addSource(page);
          page = new ArrayList<>(PAGE);
        }
      }
      store.addSource(page);
      page = new ArrayList<>(PAGE);
      // Pathling: 1% missing, 1% stale, 1% extra, 0.1% duplicated.
      for (int i = 0; i < n; i++) {
        if (i % 100 == 1) {
          continue;
        }
        String id = i % 100 == 3 ? "extra-" + i : id(i);
        long version = i % 100 == 2 ? 1L : 2L;
        page.add(new ListedRow(id, version, 1_700_000_000_000L + i));
        if (i % 1000 == 4) {
          page.add(new ListedRow(id, version, 1_700_000_000_000L + i));
        }
        if (page.size() >= PAGE) {
          store.addPathling(page);
          page = new ArrayList<>(PAGE);
        }
      }
      store.addPathling(page);
      loaded = System.nanoTime();
      tally = store.compare("Patient", (type, kind, id) -> found.merge(kind, 1L, Long::sum));
    }
    long end = System.nanoTime();
    long peakHeap = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peakHeap += pool.getPeakUsage().getUsed();
      }
    }
    double seconds = (end - start) / 1e9;
    System.out.printf(Locale.ROOT, "ids per side: %d%n", n);
    System.out.printf(Locale.ROOT, "load: %.1f s, compare: %.1f s, total %.1f s%n",
        (loaded - start) / 1e9, (end - loaded) / 1e9, seconds);
    System.out.printf(Locale.ROOT, "ids compared per second (both sides' ids / total time): %.0f%n", 2.0 * n / seconds);
    System.out.printf(Locale.ROOT, "peak heap used: %.1f MiB (max heap %.0f MiB)%n", peakHeap / 1048576.0,
        Runtime.getRuntime().maxMemory() / 1048576.0);
    System.out.printf(Locale.ROOT, "tally: %s%nfound: %s%n", tally, found);
    Files.deleteIfExists(dir);
  }

  private static String id(int i) {
    return String.format(Locale.ROOT, "id-%08d", i);
  }
}
