package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.e2e.HapiWorkload;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import picocli.CommandLine;

/**
 * {@code backfill} from a real HAPI JPA 8.8.0's {@code $export}, then changes and deletes made in
 * HAPI while nothing listened, then {@code sync}: Pathling ends exactly as HAPI, deletes included,
 * though HAPI's export lists no deleted resource.
 */
class SyncFromHapiTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private final ScheduledExecutorService maintenance = Executors.newSingleThreadScheduledExecutor();

  @BeforeEach
  void driveHapisExports() {
    // HAPI moves an export on one step per maintenance pass, once a minute by itself.
    maintenance.scheduleWithFixedDelay(hapi::runMaintenancePass, 0, 250, TimeUnit.MILLISECONDS);
  }

  @AfterEach
  void stop() {
    maintenance.shutdownNow();
  }

  @Test
  void sync_afterChangesAndDeletesNobodyDelivered_leavesPathlingExactlyAsHapi() throws Exception {
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    int count = 30;
    hapiWrites.write(count, 0, 1, 2);
    String[] source = {"--source-url", hapi.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient,Observation", "--linger", "50ms"};
    Run backfill = run("backfill", source);
    assertThat(backfill.exitCode()).as(backfill.out()).isZero();
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));

    hapiWrites.write(count, 2, 3, 2); // updates nobody delivers
    hapiWrites.delete(count, 3, 2); // deletes HAPI's export will not list
    Run sync = run("sync", source);

    assertThat(sync.exitCode()).as(sync.out()).isZero();
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));
    assertThat(sync.out()).containsPattern("Patient\\s+\\d+\\s+\\d+\\s+\\d+\\s+10\\s");
  }

  private record Run(int exitCode, String out) {}

  private static Run run(String command, String... options) throws Exception {
    String[] args = new String[options.length + 1];
    args[0] = command;
    System.arraycopy(options, 0, args, 1, options.length);
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    return new Run(commandLine.execute(args), out.toString());
  }
}
