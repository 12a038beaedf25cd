package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
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

  @Test
  void importLoad_ofHapisRealExport_thenSyncWithDeletes_leavesPathlingExactlyAsHapi(@TempDir Path staging)
      throws Exception {
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    int count = 30;
    hapiWrites.write(count, 0, 1, 2);
    String[] source = {"--source-url", hapi.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient,Observation", "--linger", "50ms"};
    Run backfill = run("backfill", concat(source, "--load", "import", "--staging-dir", staging.toString()));
    assertThat(backfill.exitCode()).as(backfill.out()).isZero();
    assertThat(pathling.imports()).singleElement();
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));

    // Pathling holds these from the import, not from the relay: their deletes must still be sent.
    hapiWrites.delete(count, 3, 2);
    Run sync = run("sync", source);

    assertThat(sync.exitCode()).as(sync.out()).isZero();
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));
  }

  @Test
  void pnpLoad_pathlingPullsHapisRealExport_thenSyncWithDeletes_leavesPathlingExactlyAsHapi() throws Exception {
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    int count = 20;
    hapiWrites.write(count, 0, 1, 2);
    pathling.onPnp(request -> exportFromHapi(request.types()));
    String[] source = {"--source-url", hapi.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--type", "Patient,Observation", "--linger", "50ms"};
    Run backfill = run("backfill", concat(source, "--load", "pnp"));
    assertThat(backfill.exitCode()).as(backfill.out()).isZero();
    assertThat(pathling.pnpRequests()).singleElement()
        .satisfies(request -> assertThat(request.exportUrl()).isEqualTo(hapi.baseUrl()));
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));

    hapiWrites.write(count, 2, 2, 2);
    hapiWrites.delete(count, 4, 2);
    Run sync = run("sync", source);

    assertThat(sync.exitCode()).as(sync.out()).isZero();
    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(30));
  }

  /** What Pathling's {@code $import-pnp} would read: a real {@code $export} from HAPI, over HTTP. */
  private static Map<String, List<String>> exportFromHapi(List<String> types) {
    try {
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> kickOff = http.send(
          HttpRequest.newBuilder(URI.create(hapi.baseUrl() + "/$export?_type=" + String.join(",", types)))
              .header("Accept", "application/fhir+json").header("Prefer", "respond-async").build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(kickOff.statusCode()).as(kickOff.body()).isEqualTo(202);
      URI status = URI.create(kickOff.headers().firstValue("Content-Location").orElseThrow());
      AtomicReference<String> manifest = new AtomicReference<>();
      await("HAPI's export").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
        HttpResponse<String> poll = http.send(HttpRequest.newBuilder(status).build(), HttpResponse.BodyHandlers.ofString());
        manifest.set(poll.body());
        return poll.statusCode() == 200;
      });
      Map<String, List<String>> lines = new HashMap<>();
      for (JsonNode file : new ObjectMapper().readTree(manifest.get()).path("output")) {
        String body = http.send(HttpRequest.newBuilder(URI.create(file.path("url").asText())).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        lines.computeIfAbsent(file.path("type").asText(), t -> new ArrayList<>())
            .addAll(body.lines().filter(line -> !line.isBlank()).toList());
      }
      return lines;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static String[] concat(String[] first, String... more) {
    String[] all = Arrays.copyOf(first, first.length + more.length);
    System.arraycopy(more, 0, all, first.length, more.length);
    return all;
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
