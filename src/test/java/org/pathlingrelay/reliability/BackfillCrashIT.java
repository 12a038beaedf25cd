package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.ImportJob;
import org.pathlingrelay.testing.RecordedRequest;

/**
 * The real jar's {@code backfill}, killed with SIGKILL at chosen phases (export job running,
 * download, outbox filling, batches or the {@code $import} job in flight) at a random moment within
 * each, and restarted on the same data dir with the same options until it exits by itself. At the
 * end Pathling must hold exactly the export: every resource once, with the export's content (older
 * rows that were there before are replaced), and the journal must have resumed the one export
 * rather than starting another; unless that export cannot be resumed (cancelled by a stopped run,
 * or purged by the source), when exactly one new export must replace it.
 */
class BackfillCrashIT {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final Path FIGURES = Path.of("target", "backfill-crash.txt");
  private static final FhirContext FHIR = FhirContext.forR4Cached();
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Small files, one download at a time: the download phase lasts long enough to be hit. */
  private static final int RESOURCES_PER_FILE = 400;

  @TempDir Path work;
  private Runs runs;

  @AfterEach
  void killWhatIsLeft() throws InterruptedException {
    if (runs != null) {
      runs.stop();
    }
  }

  @BeforeAll
  static void freshFigures() throws IOException {
    Files.deleteIfExists(FIGURES);
  }

  @Test
  void relayLoad_killedInEveryPhase_resumesTheSameExport_andPathlingEndsWithExactlyTheExport() throws Exception {
    long started = System.nanoTime();
    long seed = System.nanoTime();
    Random random = new Random(seed);
    Map<String, String> export = datasetOf(1);
    int stale = seedOlderVersionsOfEvery(25, export);
    source.setMinJobDuration(Duration.ofMillis(2_500));
    source.setRetryAfter("1");
    pathling.setWriteDelay(Duration.ofMillis(100), Duration.ofNanos(300_000));

    runs = new Runs(List.of("--batch-max", "400", "--linger", "50ms"));
    List<Kill> kills = new ArrayList<>();
    kills.add(runs.killWhen("while the export job runs", () -> source.pollCount() > 0, random, 400));
    int downloadsBefore = source.downloads().size();
    kills.add(runs.killWhen("during the download",
        () -> source.downloads().size() > downloadsBefore, random, 800));
    int writesBefore = pathling.writes().size();
    kills.add(runs.killWhen("while the outbox fills and batches are in flight",
        () -> pathling.writes().size() > writesBefore, random, 600));
    int rowsBefore = pathling.totalRows();
    kills.add(runs.killWhen("while forwarding, half delivered",
        () -> pathling.totalRows() >= rowsBefore + (export.size() - rowsBefore) / 2, random, 300));
    int exitCode = runs.awaitLastRun(Duration.ofMinutes(2));

    assertThat(exitCode).as("the last run's exit code; log: %s", runs.lastLog()).isZero();
    assertThat(source.kickOffs()).as("one export, resumed after every kill").hasSize(1);
    assertThat(kills).as("every kill left the journal on the same export")
        .allSatisfy(kill -> assertThat(kill.statusUrl()).isNotNull().isEqualTo(kills.get(0).statusUrl()));
    assertThat(kills.get(0).manifest()).as("killed while the export job was still running").isFalse();
    assertThat(redownloadedFiles(kills)).as("files complete in the journal are not downloaded again").isEmpty();
    assertJournalCompleted();
    assertPathlingHoldsExactly(export);
    List<RecordedRequest> writes = pathling.writes();
    assertThat(writes).as("through the outbox only: PUT batches").allSatisfy(w -> assertThat(w.isBatch()).isTrue());

    figures(String.format(
        "backfill-crash relay: %d kills (%s), %d resources exported (%d files), %d older rows replaced,"
            + " %d kick-off, %d status polls, %d downloads (%d of files cut off by a kill), %d write requests"
            + " to Pathling (%d answered 500 for an overlap with a killed run's request), %d rows, 0 missing,"
            + " 0 duplicate, 0 stale; %.1f s, seed %d%n",
        kills.size(), describe(kills), export.size(), source.downloads().stream().map(d -> d.fileId()).distinct().count(),
        stale, source.kickOffs().size(), source.pollCount(), source.downloads().size(),
        source.downloads().size() - source.downloads().stream().map(d -> d.fileId()).distinct().count(),
        writes.size(), writes.stream().filter(w -> w.status() == 500).count(), pathling.totalRows(),
        (System.nanoTime() - started) / 1e9, seed));
  }

  @Test
  void importLoad_killedWhileStagingAndWhileTheImportJobRuns_endsWithEveryResourceOnce() throws Exception {
    long started = System.nanoTime();
    long seed = System.nanoTime();
    Random random = new Random(seed);
    Map<String, String> export = datasetOf(1);
    int stale = seedOlderVersionsOfEvery(25, export);
    source.setRetryAfter("1");
    // A source slow enough that the kill "while staging" lands while staging: 29 files at 200 ms on 4
    // connections last about 1.5 s, the kill comes within 200 ms of the first (once all 29 were done
    // before the kill landed, on a loaded machine).
    source.setDownloadDelay(Duration.ofMillis(200));
    pathling.setImportDuration(Duration.ofSeconds(4));
    Path staging = Files.createDirectories(work.resolve("staging"));

    runs = new Runs(List.of("--load", "import", "--staging-dir", staging.toString()));
    List<Kill> kills = new ArrayList<>();
    kills.add(runs.killWhen("while staging", () -> !source.downloads().isEmpty(), random, 200));
    kills.add(runs.killWhen("while the $import job runs", () -> !pathling.imports().isEmpty(), random, 2_000));
    Kill duringImport = kills.get(1);
    int exitCode = runs.awaitLastRun(Duration.ofMinutes(2));

    assertThat(exitCode).as("the last run's exit code; log: %s", runs.lastLog()).isZero();
    assertThat(source.kickOffs()).as("one export, resumed after every kill").hasSize(1);
    assertThat(kills).as("every kill left the journal on the same export")
        .allSatisfy(kill -> assertThat(kill.statusUrl()).isNotNull().isEqualTo(kills.get(0).statusUrl()));
    assertThat(kills.get(0).filesDone()).as("killed while staging").hasSizeLessThan(kills.get(0).files());
    assertThat(redownloadedFiles(kills)).as("files staged in the journal are not downloaded again").isEmpty();
    if (duringImport.importJobUrl() != null) {
      // The journal knew the job: the next run must poll it, not submit the import again.
      assertThat(pathling.imports()).as("one $import, polled to the end by the next run").hasSize(1);
      assertThat(pathling.jobs()).hasSize(1);
    } else {
      // Killed between the kick-off and the journal entry: the same request again, which Pathling
      // answers with the same job while it runs, or which merges the same rows once more.
      assertThat(pathling.imports()).hasSizeBetween(1, 2);
      assertThat(pathling.imports()).extracting(r -> Set.copyOf(r.inputs())).containsOnly(Set.copyOf(pathling.imports().get(0).inputs()));
    }
    assertThat(pathling.jobs()).allSatisfy(job -> assertThat(job.state()).isEqualTo(ImportJob.State.COMPLETED));
    assertThat(pathling.writes()).as("no resource went through the outbox")
        .allSatisfy(w -> assertThat(w.path()).endsWith("$import"));
    assertJournalCompleted();
    assertPathlingHoldsExactly(export);
    try (Stream<Path> left = Files.walk(staging)) {
      assertThat(left.filter(Files::isRegularFile)).as("staged files removed after the import").isEmpty();
    }

    figures(String.format(
        "backfill-crash import: %d kills (%s), %d resources exported (%d files), %d older rows replaced,"
            + " %d kick-off, %d downloads, %d $import request(s), %d job(s), %d rows, 0 missing, 0 duplicate,"
            + " 0 stale; %.1f s, seed %d%n",
        kills.size(), describe(kills), export.size(), kills.get(0).files(), stale, source.kickOffs().size(),
        source.downloads().size(), pathling.imports().size(), pathling.jobs().size(), pathling.totalRows(),
        (System.nanoTime() - started) / 1e9, seed));
  }

  @Test
  void stoppedWhileTheExportRuns_thenKilledAndTheExportPurged_eachRestartStartsANewExport_andEndsWithExactlyTheExport()
      throws Exception {
    long started = System.nanoTime();
    long seed = System.nanoTime();
    Random random = new Random(seed);
    Map<String, String> export = datasetOf(1);
    source.setHapiCancelQuirk(true); // a cancelled job stays "in progress, CANCELLED" for ever, as on HAPI 8.8.0
    source.setMinJobDuration(Duration.ofMillis(2_500));
    source.setRetryAfter("1");

    runs = new Runs(List.of("--batch-max", "400", "--linger", "50ms"));
    List<Kill> ends = new ArrayList<>();
    ends.add(runs.stopWhen("stopped (SIGTERM) while the export job runs", () -> source.pollCount() > 0, random, 400));
    ends.add(runs.killWhen("killed during the download, then the source purged the export",
        () -> !source.downloads().isEmpty(), random, 400));
    source.expireJobs(); // what HAPI does 2 h after an export finished, while the relay was down
    int exitCode = runs.awaitLastRun(Duration.ofMinutes(2));

    assertThat(exitCode).as("the last run's exit code; log: %s", runs.lastLog()).isZero();
    assertThat(source.cancellations()).as("the stopped run cancelled its export").isNotEmpty();
    assertThat(ends.get(0).statusUrl()).as("and forgot it").isNull();
    assertThat(ends.get(0).exitSeconds()).as("the stopped run exits once it has cleaned up, without waiting"
        + " out the shutdown hook's 15 s").isLessThan(10);
    assertThat(ends.get(1).statusUrl()).as("the killed run's export, kept for a resume").isNotNull();
    assertThat(source.kickOffs()).as("a new export after the stop, and after the purge").hasSize(3);
    assertJournalCompleted();
    assertPathlingHoldsExactly(export);

    figures(String.format(
        "backfill-crash new export: %d ends (%s), %d resources exported, %d kick-offs, %d cancellation(s),"
            + " %d rows, 0 missing, 0 duplicate; %.1f s, seed %d%n",
        ends.size(), describe(ends), export.size(), source.kickOffs().size(), source.cancellations().size(),
        pathling.totalRows(), (System.nanoTime() - started) / 1e9, seed));
  }

  // ---------------------------------------------------------------- the export and Pathling

  /**
   * Synthea-10 {@code copies} times over, each copy under fresh ids, served by the fake source in
   * files of {@link #RESOURCES_PER_FILE}. Returns {@code Type/id} → the exported line.
   */
  private Map<String, String> datasetOf(int copies) throws IOException {
    Path dir = Files.createDirectories(work.resolve("dataset"));
    Map<String, String> export = new LinkedHashMap<>();
    List<Path> fixtures;
    try (Stream<Path> files = Files.list(FakeBulkExportSource.SYNTHEA_10)) {
      fixtures = files.filter(f -> f.toString().endsWith(".ndjson")).sorted().toList();
    }
    for (Path fixture : fixtures) {
      List<String> lines = Files.readAllLines(fixture, StandardCharsets.UTF_8);
      try (BufferedWriter out = Files.newBufferedWriter(dir.resolve(fixture.getFileName()), StandardCharsets.UTF_8)) {
        for (int copy = 0; copy < copies; copy++) {
          for (String line : lines) {
            if (line.isBlank()) {
              continue;
            }
            ObjectNode resource = (ObjectNode) JSON.readTree(line);
            String id = resource.get("id").asText() + "-" + copy;
            resource.put("id", id);
            String copied = JSON.writeValueAsString(resource);
            out.write(copied);
            out.write('\n');
            export.put(resource.get("resourceType").asText() + "/" + id, copied);
          }
        }
      }
    }
    source.setMaxResourcesPerFile(RESOURCES_PER_FILE);
    source.useDataset(dir);
    assertThat(source.totalResources()).isEqualTo(export.size());
    return export;
  }

  /** Puts an older version (an extra tag) of every {@code nth} exported resource into Pathling. */
  private static int seedOlderVersionsOfEvery(int nth, Map<String, String> export) {
    IParser parser = FHIR.newJsonParser();
    List<Resource> older = new ArrayList<>();
    int i = 0;
    for (String line : export.values()) {
      if (i++ % nth == 0) {
        Resource resource = (Resource) parser.parseResource(line);
        resource.getMeta().addTag(new Coding("urn:test", "older-version", null));
        older.add(resource);
      }
    }
    pathling.seed(older.toArray(Resource[]::new));
    return older.size();
  }

  private static void assertPathlingHoldsExactly(Map<String, String> export) {
    assertThat(pathling.duplicateIds()).as("duplicate rows").isEmpty();
    Map<String, Set<String>> expectedIds = new TreeMap<>();
    export.keySet().forEach(key -> expectedIds
        .computeIfAbsent(key.substring(0, key.indexOf('/')), t -> new TreeSet<>())
        .add(key.substring(key.indexOf('/') + 1)));
    expectedIds.forEach((type, ids) ->
        assertThat(pathling.ids(type)).as("%s ids in Pathling", type).containsExactlyInAnyOrderElementsOf(ids));
    assertThat(pathling.totalRows()).as("rows in Pathling").isEqualTo(export.size());
    IParser parser = FHIR.newJsonParser();
    List<String> differing = new ArrayList<>();
    for (String type : expectedIds.keySet()) {
      for (var row : pathling.rows(type)) {
        String key = type + "/" + row.getIdElement().getIdPart();
        String actual = parser.encodeResourceToString(row);
        // The same JSON tree settles most quickly; HAPI's encoding may differ from the exported
        // text in form only (narrative XHTML, for one), so compare the rest as HAPI encodes both.
        if (!sameJson(export.get(key), actual)
            && !parser.encodeResourceToString(parser.parseResource(export.get(key))).equals(actual)) {
          differing.add(key);
        }
      }
    }
    assertThat(differing).as("resources whose content in Pathling is not the export's").isEmpty();
  }

  private static boolean sameJson(String a, String b) {
    try {
      return JSON.readTree(a).equals(JSON.readTree(b));
    } catch (IOException e) {
      return false;
    }
  }

  private void assertJournalCompleted() throws IOException {
    JsonNode journal = JSON.readTree(work.resolve("data").resolve("backfill.json").toFile());
    assertThat(journal.path("run").isNull() || journal.path("run").isMissingNode())
        .as("no run left in the journal: %s", journal).isTrue();
    assertThat(journal.path("watermark").isTextual()).as("the watermark advanced: %s", journal).isTrue();
  }

  /** Files the journal had as complete at a kill, downloaded again by a later run. */
  private static Set<String> redownloadedFiles(List<Kill> kills) {
    Set<String> again = new TreeSet<>();
    List<FakeBulkExportSource.Download> downloads = source.downloads();
    for (Kill kill : kills) {
      for (FakeBulkExportSource.Download later : downloads.subList(kill.downloadsSoFar(), downloads.size())) {
        if (kill.filesDone().contains(later.fileId())) {
          again.add(later.fileId());
        }
      }
    }
    return again;
  }

  private static String describe(List<Kill> kills) {
    return kills.stream().map(Kill::toString).collect(Collectors.joining("; "));
  }

  private static void figures(String line) throws IOException {
    System.out.print(line);
    Files.writeString(FIGURES, line, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  // ---------------------------------------------------------------- processes

  /**
   * What one kill left behind: the moment, and the journal as the next run found it.
   *
   * @param exitSeconds how long the process took to go after the signal
   * @param statusUrl the export in the journal, or null when it had none
   * @param files output files in the journal's manifest, or 0 when it had none yet
   * @param filesDone file ids the journal had as complete
   * @param downloadsSoFar downloads the source had served when the process died
   */
  private record Kill(
      String moment, double atSeconds, double exitSeconds, String statusUrl, boolean manifest, int files, Set<String> filesDone,
      boolean queued, String importJobUrl, int downloadsSoFar, int rowsInPathling) {

    @Override
    public String toString() {
      return String.format("%s at %.1f s, gone %.1f s later: ", moment, atSeconds, exitSeconds)
          + (statusUrl == null ? "no export in the journal" : manifest ? filesDone.size() + "/" + files + " files done" : "no manifest yet")
          + (queued ? ", all queued" : "") + (importJobUrl != null ? ", $import job journalled" : "")
          + ", " + rowsInPathling + " rows in Pathling";
    }
  }

  /** The backfill command, run again and again on one data dir with the same options. */
  private final class Runs {
    private final List<String> command;
    private final long born = System.nanoTime();
    private Process process;
    private int started;

    Runs(List<String> loadOptions) throws IOException {
      command = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
          jar().toString(), "backfill",
          "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
          "--data-dir", work.resolve("data").toString(), "--download-concurrency", "1"));
      command.addAll(loadOptions);
      start();
    }

    private static Path jar() {
      Path jar = Path.of("target", "pathling-relay.jar");
      assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
      return jar;
    }

    private void start() throws IOException {
      started++;
      process = new ProcessBuilder(command)
          .redirectErrorStream(true)
          .redirectOutput(lastLogFile().toFile())
          .start();
    }

    private Path lastLogFile() {
      return work.resolve("backfill-" + started + ".log");
    }

    String lastLog() throws IOException {
      String log = Files.readString(lastLogFile());
      return log.length() > 4_000 ? "..." + log.substring(log.length() - 4_000) : log;
    }

    /**
     * Once {@code phase} holds, waits a random part of {@code jitterMillis}, kills the process
     * with SIGKILL, reads what it left in the journal, and starts the next run.
     */
    Kill killWhen(String moment, BooleanSupplier phase, Random random, int jitterMillis) throws Exception {
      return endWhen(moment, phase, random, jitterMillis, true);
    }

    /** As {@link #killWhen}, but with SIGTERM, as Ctrl-C or {@code docker stop} would. */
    Kill stopWhen(String moment, BooleanSupplier phase, Random random, int jitterMillis) throws Exception {
      return endWhen(moment, phase, random, jitterMillis, false);
    }

    private Kill endWhen(String moment, BooleanSupplier phase, Random random, int jitterMillis, boolean kill)
        throws Exception {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
      while (!phase.getAsBoolean()) {
        if (!process.isAlive()) {
          fail("run " + started + " ended (exit " + process.exitValue() + ") before it could be killed " + moment
              + "; log: " + lastLog());
        }
        if (System.nanoTime() > deadline) {
          fail("run " + started + " never got " + moment + "; log: " + lastLog());
        }
        TimeUnit.MILLISECONDS.sleep(5);
      }
      TimeUnit.MILLISECONDS.sleep(random.nextInt(jitterMillis));
      assertThat(process.isAlive()).as("run %d still running when killed %s; log: %s", started, moment, lastLog())
          .isTrue();
      double at = (System.nanoTime() - born) / 1e9;
      if (kill) {
        process.destroyForcibly(); // SIGKILL on Linux
      } else {
        process.destroy(); // SIGTERM: the shutdown hook interrupts the run
      }
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      double exit = (System.nanoTime() - born) / 1e9 - at;
      int downloads = source.downloads().size();
      int rows = pathling.totalRows();

      JsonNode run = JSON.readTree(work.resolve("data").resolve("backfill.json").toFile()).path("run");
      JsonNode manifest = run.path("manifest");
      Set<String> done = new HashSet<>();
      run.path("filesDone").forEach(url -> done.add(url.asText().substring(url.asText().lastIndexOf('/') + 1)));
      Kill ended = new Kill(moment, at, exit, run.path("statusUrl").isTextual() ? run.path("statusUrl").asText() : null,
          manifest.isObject(),
          manifest.path("output").size(), done, run.path("queuedUpToSeq").isNumber(),
          run.path("importJobUrl").isTextual() ? run.path("importJobUrl").asText() : null, downloads, rows);
      start();
      return ended;
    }

    /** A failed test must not leave a backfill running into the next one. */
    void stop() throws InterruptedException {
      if (process.isAlive()) {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }

    int awaitLastRun(Duration timeout) throws Exception {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        fail("the last run did not finish within " + timeout + "; log: " + lastLog());
      }
      return process.exitValue();
    }
  }
}
