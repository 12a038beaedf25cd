package org.pathlingrelay.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.forward.ForwarderLock;
import org.pathlingrelay.source.SourceException;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import picocli.CommandLine;

/**
 * What an operator sees after a mistake they can fix: one line on stderr that names the cause
 * and the option (and variable) to change, a non-zero exit, and no stack trace. Usage errors
 * give the message and where the help is, not the help itself.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class OperatorMistakeTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dir;

  record Run(int exitCode, String out, String err) {}

  private static Run execute(String... args) throws IOException {
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  private Run serve(Path dataDir, int port) throws IOException {
    return execute("serve", "--no-auth", "--bind", "127.0.0.1", "--port", String.valueOf(port),
        "--data-dir", dataDir.toString(), "--pathling-url", pathling.baseUrl());
  }

  /** Exactly one line, starting with the program's name, no Java frames, and a non-zero exit. */
  private static void assertOneLineMistake(Run run, String... mentions) {
    assertThat(run.exitCode()).isNotZero();
    assertThat(run.err().lines().toList()).as(run.err()).hasSize(1);
    assertThat(run.err())
        .startsWith("pathling-relay: ")
        .doesNotContain("\tat ", "at org.", "at java.", "Exception")
        .contains(mentions);
  }

  @Test
  void serve_onABusyPort_saysThePortIsInUse_andNamesTheOption() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Run run = serve(dir.resolve("data"), busy.getLocalPort());

      assertOneLineMistake(run, "port " + busy.getLocalPort() + " is in use", "--port", "RELAY_PORT");
    }
  }

  @Test
  void serve_onADataDirThatIsAFile_saysSo_andNamesTheOption() throws Exception {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x", UTF_8);

    Run run = serve(file, 0);

    assertOneLineMistake(run, "not-a-dir is a file, not a directory", "--data-dir", "RELAY_DATA_DIR");
  }

  @Test
  void serve_onADataDirInsideAFile_saysSo_andNamesTheOption() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "x", UTF_8);

    Run run = serve(file.resolve("data"), 0);

    assertOneLineMistake(run, "a-file is a file, not a directory", "--data-dir");
  }

  @Test
  void serve_onAnOutboxThatIsNoDatabase_saysItCannotOpenIt_andNamesTheOption() throws Exception {
    Path dataDir = Files.createDirectories(dir.resolve("data"));
    Files.writeString(dataDir.resolve("relay.db"), "this is not a database, it is a text file".repeat(100), UTF_8);

    Run run = serve(dataDir, 0);

    assertOneLineMistake(run, "cannot open the outbox", "relay.db", "--data-dir", "RELAY_DATA_DIR");
  }

  @Test
  void serve_onADataDirAnotherRelayForwardsFrom_saysSo_andNamesTheOption() throws Exception {
    Path dataDir = dir.resolve("data");
    try (ForwarderLock held = ForwarderLock.tryAcquire(dataDir).orElseThrow()) {
      Run run = serve(dataDir, 0);

      assertOneLineMistake(run, "another pathling-relay process", dataDir.toAbsolutePath().toString(),
          "--data-dir", "RELAY_DATA_DIR");
    }
  }

  @Test
  void backfill_fromASourceWithoutExport_saysSo_andNamesTheOption() throws Exception {
    source.failNextKickOffs(100, 404);

    Run run = execute("backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dir.resolve("data").toString());

    assertOneLineMistake(run, "has no $export", source.baseUrl(), "404", "--source-url", "SOURCE_URL");
  }

  @Test
  void unsubscribe_fromAnUnreachableSource_saysItCannotReachIt_andNamesTheOption() throws Exception {
    int closed;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = socket.getLocalPort();
    }
    String url = "http://127.0.0.1:" + closed + "/fhir";

    Run run = execute("unsubscribe", "--source-url", url, "--data-dir", dir.resolve("data").toString());

    assertOneLineMistake(run, "cannot reach the source at " + url, "refused", "--source-url", "SOURCE_URL");
  }

  @Test
  void sourceExceptionWithoutAnswer_fromAnUnknownHost_namesTheHostAndTheOption() {
    // The backfill's own retries take a minute before this reaches the command line; the
    // explanation is what the user then sees.
    KnownFailures known = new KnownFailures(
        name -> name.equals("--source-url") ? Optional.of("http://no-such-host.invalid/fhir") : Optional.empty());
    SourceException failure = new SourceException("The source did not answer the export kick-off: x", 0, true, null,
        new java.net.UnknownHostException("no-such-host.invalid"));

    assertThat(known.explain(new RuntimeException(failure)))
        .map(Throwable::getMessage)
        .contains("cannot reach the source at http://no-such-host.invalid/fhir: unknown host no-such-host.invalid"
            + " (--source-url / SOURCE_URL)");
  }

  @Test
  void unexpectedFailure_isNotDressedUpAsAMistake() {
    KnownFailures known = new KnownFailures(name -> Optional.empty());

    assertThat(known.explain(new NullPointerException("a bug"))).isEmpty();
    assertThat(known.explain(new java.nio.file.NoSuchFileException("/tmp/unrelated"))).isEmpty();
  }

  // ---- usage errors: the message and where the help is, not 150 lines of help

  @Test
  void missingRequiredOption_printsTheMessageAndWhereTheHelpIs_notTheHelp() throws Exception {
    Run run = execute("backfill", "--data-dir", dir.resolve("data").toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    List<String> lines = run.err().lines().toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).isEqualTo("pathling-relay: Missing required option: '--source-url=<sourceUrl>'");
    assertThat(lines.get(1)).startsWith("see: java ").endsWith(" backfill --help");
    assertThat(run.err()).doesNotContain("Usage:");
  }

  @Test
  void unknownOption_printsTheMessage_theSuggestion_andWhereTheHelpIs() throws Exception {
    Run run = execute("serve", "--no-auht");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err().lines().toList()).hasSizeLessThanOrEqualTo(3);
    assertThat(run.err())
        .contains("Unknown option: '--no-auht'")
        .contains("--no-auth")
        .contains(" serve --help")
        .doesNotContain("Usage:");
  }

  @Test
  void usageErrorOfANestedCommand_pointsAtItsOwnHelp() throws Exception {
    Run run = execute("dead-letters", "retry", "--data-dir", dir.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains(" dead-letters retry --help").doesNotContain("Usage:");
  }

  @Test
  void usageErrorFromTheCommandItself_isShortToo() throws Exception {
    Run run = execute("serve", "--bind", "127.0.0.1", "--port", "0", "--data-dir", dir.resolve("d").toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err().lines().toList()).hasSize(2);
    assertThat(run.err()).contains("--receiver-secret").contains(" serve --help");
  }

  @Test
  void helpHint_isACommandThatWorks() throws Exception {
    Run run = execute("backfill");
    String hint = run.err().lines().filter(line -> line.startsWith("see: ")).findFirst().orElseThrow()
        .substring("see: ".length());
    List<String> words = new ArrayList<>(List.of(hint.split(" ")));

    // the launcher is this test's own JVM class path: run its words after the launcher
    int main = words.indexOf(Main.class.getName());
    Run help = execute(words.subList(main + 1, words.size()).toArray(String[]::new));

    assertThat(help.exitCode()).isZero();
    assertThat(help.out()).contains("Usage: pathling-relay backfill");
  }
}
