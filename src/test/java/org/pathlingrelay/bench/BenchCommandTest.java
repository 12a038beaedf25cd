package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The bench as a developer runs it ({@link BenchCommand}'s command line), with tiny sizes and one
 * round: every part's rows carry a baseline and a ratio, and the markdown file is written. Timings are not asserted: they
 * depend on the machine; that the figures exist and are positive is what is checked.
 */
class BenchCommandTest {

  @TempDir Path workDir;

  @Test
  void bench_withTinySizes_printsOneTableWithBaselinesAndRatios_andWritesItAsMarkdown() throws Exception {
    Path out = workDir.resolve("results").resolve("bench.md");
    StringWriter stdout = new StringWriter();
    StringWriter stderr = new StringWriter();
    CommandLine commandLine = new CommandLine(new BenchCommand());
    commandLine.setOut(new PrintWriter(stdout));
    commandLine.setErr(new PrintWriter(stderr));

    int exit = commandLine.execute("--rounds", "1", "--out", out.toString(), "--work-dir", workDir.toString(),
        "--ingest-requests", "200", "--ingest-warm-up", "50", "--concurrency", "8",
        "--forward-size", "400", "--forward-update-size", "8", "--model-scale", "0.01",
        "--lag-rate", "100", "--lag-seconds", "2", "--lag-quiet-every", "1",
        "--backfill-size", "1500", "--backfill-file-lines", "400", "--backfill-commit-ms", "10",
        "--backfill-per-resource-ms", "0");

    assertThat(exit).as(stderr.toString()).isZero();
    String table = stdout.toString();
    assertThat(table).contains("Machine:", "cores", "GiB memory", "Java ");
    List<String[]> rows = rows(table);
    for (String part : List.of("ingest", "forward", "lag", "backfill")) {
      assertThat(rows).as("rows of " + part).anyMatch(row -> row[0].equals(part));
    }
    assertThat(rows).extracting(row -> row[1]).contains(
        "acknowledged notifications/s", "latency p99, ms",
        "batch mode: changes/s", "update mode: requests per 1,000 changes",
        "Pathling time per 1,000 changes, s", "quiet types' p99 wait, request times",
        "DELETE requests per 1,000 changes", "wait p99, s", "largest outbox depth, changes",
        "--load relay: resources/s", "--load import: resources/s", "--load relay: peak RSS, MiB");
    for (String[] row : rows) {
      String what = String.join(" | ", row);
      assertThat(number(row[2])).as("relay value of " + what).isPositive();
      assertThat(number(row[3])).as("baseline of " + what).isPositive();
      assertThat(number(row[4])).as("ratio of " + what).isPositive();
      assertThat(row[6]).as("what the baseline is, in " + what).isNotBlank();
    }
    assertThat(Files.readString(out, StandardCharsets.UTF_8)).isEqualTo(table.strip() + "\n");
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
