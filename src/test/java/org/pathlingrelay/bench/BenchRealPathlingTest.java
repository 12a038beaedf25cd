package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.PathlingCost;
import picocli.CommandLine;

/**
 * {@code bench --pathling-url} against the test tree's fake Pathling charging Pathling 2.0.1's
 * costs (scaled down), with tiny sizes: the forward and lag rows carry numbers, and afterwards the
 * fake holds no row the run wrote while rows it held before are untouched. And {@code
 * --pathling-cleanup PREFIX} deletes exactly the ids with that prefix.
 */
class BenchRealPathlingTest {

  private static final Path CORPUS = Path.of("src/test/fixtures/synthea-10");
  private static final Pattern PREFIX = Pattern.compile("ids starting with (bench-[a-z0-9]+-)");

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path workDir;

  @Test
  void bench_againstAPathlingUrl_printsForwardAndLagRows_andLeavesNoRowOfItsOwn() throws Exception {
    pathling.setCost(PathlingCost.PATHLING_2_0_1.scaled(0.01));
    List<String> types = SyntheaCorpus.load(CORPUS).types(5);
    List<IBaseResource> before = new ArrayList<>();
    for (String type : types) {
      before.add(resource(type, "keep-" + type.toLowerCase()));
    }
    before.add(new Patient().setId("bench-other-1")); // another run's: not this run's to delete
    pathling.seed(before.toArray(IBaseResource[]::new));
    StringWriter stdout = new StringWriter();
    StringWriter stderr = new StringWriter();

    int exit = command(stdout, stderr).execute("--pathling-url", pathling.baseUrl(), "--rounds", "2",
        "--out", workDir.resolve("bench.md").toString(), "--work-dir", workDir.toString(),
        "--forward-size", "20", "--forward-update-size", "4", "--forward-types", "2", "--pathling-batch-sizes", "5,10",
        "--lag-rate", "20", "--lag-seconds", "3", "--lag-types", "4", "--lag-quiet-every", "1", "--concurrency", "4",
        "--linger-ms", "50");

    assertThat(exit).as(stderr.toString()).isZero();
    Matcher prefix = PREFIX.matcher(stderr.toString());
    assertThat(prefix.find()).as(stderr.toString()).isTrue();
    List<String[]> rows = rows(stdout.toString());
    assertThat(rows).extracting(row -> row[0]).containsOnly("forward", "lag");
    assertThat(rows).extracting(row -> row[1]).contains("batch mode: changes/s", "update mode: changes/s",
        "batch mode: requests per 1,000 changes", "Pathling time per 1,000 changes, s", "wait p99, s",
        "time to land after the last notification, s", "DELETE requests per 1,000 changes");
    for (String[] row : rows) {
      String what = String.join(" | ", row);
      assertThat(number(row[2])).as("relay value of " + what).isNotNaN().isNotNegative();
      assertThat(number(row[3])).as("baseline of " + what).isNotNaN().isNotNegative();
      assertThat(row[6]).as("what the baseline is, in " + what).isNotBlank();
    }
    assertThat(rows).filteredOn(row -> row[1].endsWith("changes/s"))
        .allSatisfy(row -> assertThat(number(row[2])).isPositive());
    assertThat(stdout.toString()).contains("cleanup: deleted the run's");
    assertThat(pathling.writes()).as("the run wrote to the fake").isNotEmpty();
    assertThat(pathling.totalRows()).as("rows left").isEqualTo(before.size());
    for (IBaseResource row : before) {
      Resource resource = (Resource) row;
      assertThat(pathling.rowCount(resource.fhirType(), resource.getIdPart())).as(resource.getId()).isEqualTo(1);
    }
    assertThat(types.stream().flatMap(type -> pathling.ids(type).stream()))
        .noneMatch(id -> id.startsWith(prefix.group(1)));
  }

  @Test
  void pathlingCleanup_deletesTheIdsWithThePrefix_andNothingElse() throws Exception {
    List<String> types = SyntheaCorpus.load(CORPUS).types(2);
    pathling.seed(resource(types.get(0), "bench-abc123-f1"), resource(types.get(0), "bench-abc123-f2"),
        resource(types.get(1), "bench-abc123-l-held-3"), resource(types.get(0), "bench-zzz999-f1"),
        resource(types.get(1), "keep-1"));
    StringWriter stdout = new StringWriter();
    StringWriter stderr = new StringWriter();

    int exit = command(stdout, stderr).execute("--pathling-url", pathling.baseUrl(), "--pathling-cleanup", "bench-abc123-");

    assertThat(exit).as(stderr.toString()).isZero();
    assertThat(stderr.toString()).contains("found 3 resource(s)");
    assertThat(pathling.ids(types.get(0))).containsExactly("bench-zzz999-f1");
    assertThat(pathling.ids(types.get(1))).containsExactly("keep-1");
  }

  @Test
  void pathlingCleanup_refusesAPrefixThatIsNotARunsOwn() {
    StringWriter stderr = new StringWriter();
    int exit = command(new StringWriter(), stderr).execute("--pathling-url", pathling.baseUrl(), "--pathling-cleanup", "");
    assertThat(exit).isNotZero();
    assertThat(stderr.toString()).contains("bench-<random>-");
  }

  private static CommandLine command(StringWriter stdout, StringWriter stderr) {
    CommandLine commandLine = new CommandLine(new BenchCommand());
    commandLine.setOut(new PrintWriter(stdout));
    commandLine.setErr(new PrintWriter(stderr));
    return commandLine;
  }

  /** A minimal resource of {@code type} (the fake stores any type HAPI knows). */
  private static IBaseResource resource(String type, String id) throws Exception {
    Resource resource = (Resource) Class.forName(Patient.class.getPackageName() + "." + type)
        .getDeclaredConstructor().newInstance();
    resource.setId(id);
    return resource;
  }

  /** The table's data rows, cells trimmed; the header and the rule are left out. */
  private static List<String[]> rows(String table) {
    List<String[]> rows = new ArrayList<>();
    for (String line : table.lines().toList()) {
      if (!line.startsWith("|") || line.startsWith("| part") || line.startsWith("| -")) {
        continue;
      }
      String[] cells = line.substring(1, line.length() - 1).split("\\|", -1);
      for (int i = 0; i < cells.length; i++) {
        cells[i] = cells[i].trim();
      }
      rows.add(cells);
    }
    return rows;
  }

  private static double number(String cell) {
    return Double.parseDouble(cell.replace(",", ""));
  }
}
