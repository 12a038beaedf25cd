package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.testing.FakeSubscriptionSource;
import picocli.CommandLine;

/**
 * A printed hint is a command that works when pasted: the way this process was launched (not a
 * {@code pathling-relay} that is on no path) and the options of the run it follows (a hint
 * without {@code --data-dir} looks at the wrong outbox). Each hint here is followed, as printed.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PrintedHintsTest {

  @RegisterExtension static final FakeSubscriptionSource source = new FakeSubscriptionSource();

  @TempDir Path dir;

  record Run(int exitCode, String out, String err) {}

  private static Run execute(String... args) throws Exception {
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    return new Run(commandLine.execute(args), out.toString(), err.toString());
  }

  /** The words of a printed command after this test JVM's launcher (java -cp ... Main). */
  private static String[] argumentsOf(String command) {
    List<String> words = new ArrayList<>(Arrays.asList(command.trim().split(" ")));
    assertThat(words).as(command).startsWith("java").contains(Main.class.getName());
    return words.subList(words.indexOf(Main.class.getName()) + 1, words.size()).toArray(String[]::new);
  }

  @Test
  void retryOfAMissingDeadLetter_pointsAtAListOfTheSameDataDir_thatShowsTheOnesThere() throws Exception {
    Path dataDir = dir.resolve("elsewhere");
    try (Outbox outbox = Outbox.open(dataDir.resolve("relay.db"), Clock.systemUTC())) {
      ResourceKey key = new ResourceKey("Patient", "real");
      outbox.append(List.of(Change.upsert(key, new VersionStamp(1L, null), "{\"resourceType\":\"Patient\",\"id\":\"real\"}")))
          .join();
      PendingChange pending = outbox.oldest("Patient", 10).get(0);
      outbox.deadLetter(pending, 400, "refused");
    }

    Run retry = execute("dead-letters", "retry", "--data-dir", dataDir.toString(), "Patient/nope");
    String hint = retry.err().substring(retry.err().indexOf("; the ones there: ") + "; the ones there: ".length());
    Run list = execute(argumentsOf(hint));

    assertThat(retry.exitCode()).isEqualTo(1);
    assertThat(list.exitCode()).isZero();
    assertThat(list.out()).contains("Patient/real");
  }

  @Test
  void subscribe_pointsAtABackfillWithTheRunsSourcePathlingAndDataDir() throws Exception {
    Path dataDir = dir.resolve("subscribed");
    String[] args = {"subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir",
        "--receiver-secret", "s", "--types", "Patient", "--dir", "subscriptions", "--activation-timeout", "10s",
        "--pathling-url", "http://pathling.example:8080/fhir", "--data-dir", dataDir.toString()};

    Run run = execute(args);
    String hint = run.out().lines().filter(line -> line.contains(" backfill ")).findFirst().orElseThrow();
    CommandLine.ParseResult parsed =
        Main.commandLine(EnvironmentDefaults.from(new String[0], Map.of())).parseArgs(argumentsOf(hint));
    BackfillCommand backfill = (BackfillCommand) parsed.subcommand().commandSpec().userObject();

    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(hint).doesNotContain("pathling-relay backfill");
    assertThat(backfill.source.sourceUrl).isEqualTo(source.baseUrl());
    assertThat(backfill.pathling.pathlingUrl).isEqualTo("http://pathling.example:8080/fhir");
    assertThat(backfill.common.dataDir).isEqualTo(dataDir);
  }
}
