package org.pathlingrelay.layout;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The README's layout: packages by capability, and no package depends on itself through others. */
class PackageCyclesTest {

  private static final Path MAIN = Path.of("src", "main", "java", "org", "pathlingrelay");
  private static final Pattern IMPORT = Pattern.compile("^import (?:static )?org\\.pathlingrelay\\.([a-z]+)\\.", Pattern.MULTILINE);

  @Test
  void noPackageReachesItselfThroughItsImports() throws IOException {
    Map<String, Set<String>> imports = imports();
    List<String> cycles = new ArrayList<>();
    for (String start : imports.keySet()) {
      Deque<List<String>> paths = new ArrayDeque<>();
      paths.add(List.of(start));
      Set<String> seen = new TreeSet<>();
      while (!paths.isEmpty()) {
        List<String> path = paths.poll();
        for (String next : imports.getOrDefault(path.get(path.size() - 1), Set.of())) {
          if (next.equals(start)) {
            cycles.add(String.join(" -> ", path) + " -> " + start);
          } else if (seen.add(next)) {
            List<String> longer = new ArrayList<>(path);
            longer.add(next);
            paths.add(longer);
          }
        }
      }
    }
    assertThat(imports).containsKeys("receive", "outbox", "forward", "pathling", "backfill", "cli");
    assertThat(cycles).isEmpty();
  }

  @Test
  void theProductHoldsNoBench() {
    assertThat(MAIN.resolve("bench")).doesNotExist();
  }

  private static Map<String, Set<String>> imports() throws IOException {
    Map<String, Set<String>> imports = new TreeMap<>();
    try (Stream<Path> files = Files.walk(MAIN)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        String from = MAIN.relativize(file).getName(0).toString();
        Set<String> to = imports.computeIfAbsent(from, f -> new TreeSet<>());
        Matcher matcher = IMPORT.matcher(Files.readString(file));
        while (matcher.find()) {
          if (!matcher.group(1).equals(from)) {
            to.add(matcher.group(1));
          }
        }
      }
    }
    return imports;
  }
}
