package org.pathlingrelay.testing;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Collectors;
import javax.management.ObjectName;

/**
 * The live objects of this JVM by class, as {@code jcmd GC.class_histogram} reports them (it runs
 * a full GC first). A heap figure alone cannot say who grew; a failing heap assertion should.
 */
public record HeapHistogram(long totalBytes, Map<String, Long> bytesByClass) {

  public static HeapHistogram take() {
    String text;
    try {
      text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
          new Object[] {new String[0]}, new String[] {String[].class.getName()});
    } catch (Exception e) {
      throw new IllegalStateException("cannot take a class histogram", e);
    }
    Map<String, Long> bytes = new HashMap<>();
    long total = 0;
    // Rows read "   1:   12345   678900  java.lang.String (java.base@17)".
    for (String line : text.split("\n")) {
      String[] columns = line.trim().split("\\s+");
      if (columns.length >= 4 && columns[0].endsWith(":")) {
        long size = Long.parseLong(columns[2]);
        bytes.merge(columns[3], size, Long::sum);
        total += size;
      }
    }
    return new HeapHistogram(total, Map.copyOf(bytes));
  }

  public long growthSince(HeapHistogram earlier) {
    return totalBytes - earlier.totalBytes;
  }

  /** The classes that grew most since {@code earlier}, for a failure message. */
  public String largestGrowthSince(HeapHistogram earlier, int classes) {
    return bytesByClass.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - earlier.bytesByClass.getOrDefault(e.getKey(), 0L)))
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .limit(classes)
        .map(e -> String.format("%+,d B %s", e.getValue(), e.getKey()))
        .collect(Collectors.joining("; "));
  }
}
