package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.instance.model.api.IIdType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;

/**
 * The packaged relay, as users run it, killed hard (SIGKILL) while a real HAPI FHIR JPA server
 * delivers to it, and started again on the same data dir and port within HAPI's retry window:
 * HAPI's own retries and the relay's outbox together lose nothing. A restart runs in a JVM warmed
 * before the kill, so that a loaded machine's slow JVM start does not outlast HAPI's 60 s of
 * retries (HAPI would then drop deliveries, which no relay could get back but by a catch-up).
 */
class HapiCrashIT {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final String SECRET = "hapi-crash-secret";

  /** HAPI retries a failed delivery for 60 s (its RetryPolicyProvider): the relay must be back well within. */
  private static final Duration HAPI_RETRIES = Duration.ofSeconds(50);

  @TempDir Path dataDir;
  private Process relay;
  private final List<Process> standbys = new ArrayList<>();
  private final List<IIdType> subscriptions = new ArrayList<>();

  @AfterEach
  void tearDown() throws InterruptedException {
    HapiWorkload cleanup = new HapiWorkload(hapi);
    subscriptions.forEach(cleanup::unsubscribe);
    if (relay != null) {
      relay.destroy();
      relay.waitFor(30, TimeUnit.SECONDS);
    }
    for (Process standby : standbys) {
      standby.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // never released: nothing to stop gently
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static Path jar() {
    Path jar = Path.of("target", "pathling-relay.jar");
    assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
    return jar;
  }

  private List<String> serve(int port) {
    return List.of("serve", "--bind", "127.0.0.1", "--port", Integer.toString(port),
        "--data-dir", dataDir.toString(), "--pathling-url", pathling.baseUrl(),
        "--receiver-secret", SECRET, "--linger", "50ms");
  }

  private ProcessBuilder java(List<String> arguments) {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m"));
    command.addAll(arguments);
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(
            dataDir.resolveSibling(dataDir.getFileName() + "-relay.log").toFile()));
  }

  /** The first start: the packaged jar, as users run it. */
  private Process startRelay(int port) throws IOException {
    List<String> arguments = new ArrayList<>(List.of("-jar", jar().toString()));
    arguments.addAll(serve(port));
    Process process = java(arguments).start();
    awaitUp(port, Duration.ofSeconds(120));
    return process;
  }

  /**
   * A restart's JVM, started and warmed before the kill (it starts and stops a relay of its own, see
   * {@link StandbyRelay}): the packaged jar's classes and {@code main}, with nothing of the tests on
   * its class path but that one class.
   */
  private Process standby(int port, int n) throws IOException {
    Path classes = dataDir.resolveSibling(dataDir.getFileName() + "-standby");
    Path launcher = Path.of(StandbyRelay.class.getName().replace('.', '/') + ".class");
    Files.createDirectories(classes.resolve(launcher).getParent());
    Files.copy(Path.of("target", "test-classes").resolve(launcher), classes.resolve(launcher),
        StandardCopyOption.REPLACE_EXISTING);
    Path ready = classes.resolve("ready-" + n);
    List<String> arguments = new ArrayList<>(List.of("-Dstandby.ready=" + ready,
        "-cp", jar() + File.pathSeparator + classes, StandbyRelay.class.getName()));
    arguments.addAll(serve(port));
    Process process = java(arguments).redirectInput(ProcessBuilder.Redirect.PIPE).start();
    standbys.add(process);
    await("standby JVM " + n + " warmed").atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(100))
        .until(() -> Files.exists(ready));
    return process;
  }

  /** Lets a warmed standby run {@code serve}. */
  private static void release(Process standby) throws IOException {
    standby.getOutputStream().write('\n');
    standby.getOutputStream().flush();
  }

  private static void awaitUp(int port, Duration atMost) {
    HttpClient http = HttpClient.newHttpClient();
    await("relay up").atMost(atMost).pollInterval(Duration.ofMillis(50)).until(() -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
      } catch (IOException e) {
        return false;
      }
    });
  }

  @Test
  void relayKilledWhileHapiDelivers_restartedOnItsDataDir_nothingLost() throws Exception {
    int port = freePort();
    relay = startRelay(port);
    int kills = 2;
    List<Process> restarts = new ArrayList<>();
    for (int n = 0; n < kills; n++) {
      restarts.add(standby(port, n));
    }
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    for (String type : List.of("Patient", "Observation")) {
      subscriptions.add(hapiWrites.subscribe(type, "http://127.0.0.1:" + port + "/fhir", SECRET));
    }

    int count = 30;
    CompletableFuture<Void> writes = CompletableFuture.runAsync(() -> {
      try {
        hapiWrites.write(count, 0, 3, 4);
        hapiWrites.delete(count, 3, 4);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    List<Duration> downtimes = new ArrayList<>();
    for (Process restart : restarts) {
      // Kill once Pathling has something, i.e. while deliveries are flowing.
      int before = pathling.totalRows();
      await("deliveries flowing").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
          .until(() -> pathling.totalRows() > before || writes.isDone());
      Instant killed = Instant.now();
      relay.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL on Linux
      release(restart);
      relay = restart;
      awaitUp(port, HAPI_RETRIES);
      downtimes.add(Duration.between(killed, Instant.now()));
    }
    writes.get(5, TimeUnit.MINUTES);

    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(150));
    System.out.printf("hapi-crash: %d kills, down %s, %d resources written%n",
        kills, downtimes, hapiWrites.truth().size());
  }
}
