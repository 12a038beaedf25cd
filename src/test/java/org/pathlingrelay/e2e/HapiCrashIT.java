package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
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
 * HAPI's own retries and the relay's outbox together lose nothing.
 */
class HapiCrashIT {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final String SECRET = "hapi-crash-secret";

  @TempDir Path dataDir;
  private Process relay;
  private final List<IIdType> subscriptions = new ArrayList<>();

  @AfterEach
  void tearDown() throws InterruptedException {
    HapiWorkload cleanup = new HapiWorkload(hapi);
    subscriptions.forEach(cleanup::unsubscribe);
    if (relay != null) {
      relay.destroy();
      relay.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private Process startRelay(int port) throws IOException {
    Path jar = Path.of("target", "pathling-relay.jar");
    assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
    Process process = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
            jar.toString(), "serve", "--bind", "127.0.0.1", "--port", Integer.toString(port),
            "--data-dir", dataDir.toString(), "--pathling-url", pathling.baseUrl(),
            "--receiver-secret", SECRET, "--linger", "50ms")
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(
            dataDir.resolveSibling(dataDir.getFileName() + "-relay.log").toFile()))
        .start();
    HttpClient http = HttpClient.newHttpClient();
    await("relay up").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
      try {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
      } catch (IOException e) {
        return false;
      }
    });
    return process;
  }

  @Test
  void relayKilledWhileHapiDelivers_restartedOnItsDataDir_nothingLost() throws Exception {
    int port = freePort();
    relay = startRelay(port);
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
    int kills = 0;
    while (kills < 2) {
      // Kill once Pathling has something, i.e. while deliveries are flowing.
      int before = pathling.totalRows();
      await("deliveries flowing").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
          .until(() -> pathling.totalRows() > before || writes.isDone());
      relay.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL on Linux
      kills++;
      relay = startRelay(port); // well inside HAPI's ~60 s of retries
    }
    writes.get(5, TimeUnit.MINUTES);

    hapiWrites.awaitHeldBy(pathling, Duration.ofSeconds(150));
    System.out.printf("hapi-crash: %d kills, %d resources written%n", kills, hapiWrites.truth().size());
  }
}
