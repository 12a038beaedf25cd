package org.pathlingrelay.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged jar, run as a user runs it, from a folder of its own: a busy port is one line on
 * stderr, and SIGTERM on {@code serve} says what is kept for the next start.
 */
class PackagedJarIT {

  @TempDir Path dir;

  private static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private ProcessBuilder relay(Path err, Path out, String... args) {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
        Path.of("target", "pathling-relay.jar").toAbsolutePath().toString()));
    command.addAll(List.of(args));
    return new ProcessBuilder(command).directory(dir.toFile())
        .redirectError(err.toFile()).redirectOutput(out.toFile());
  }

  @Test
  void serve_onABusyPort_printsOneLineNamingTheOption_andExitsNonZero() throws Exception {
    try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Path err = dir.resolve("err.txt");
      Process process = relay(err, dir.resolve("out.txt"), "serve", "--no-auth", "--bind", "127.0.0.1",
          "--port", String.valueOf(busy.getLocalPort())).start();

      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).isNotZero();
      assertThat(Files.readAllLines(err, UTF_8))
          .containsExactly("pathling-relay: port " + busy.getLocalPort() + " is in use (--port / RELAY_PORT)");
    }
  }

  @Test
  void serve_onSigterm_saysWhatIsPendingForTheNextStart() throws Exception {
    int port = closedPort();
    Path out = dir.resolve("out.txt");
    Process process = relay(dir.resolve("err.txt"), out, "serve", "--no-auth", "--bind", "127.0.0.1",
        "--port", String.valueOf(port), "--pathling-url", "http://127.0.0.1:" + closedPort() + "/fhir").start();
    HttpClient http = HttpClient.newHttpClient();
    URI patient = URI.create("http://127.0.0.1:" + port + "/fhir/Patient/p1");
    await("relay up").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
      try {
        return http.send(HttpRequest.newBuilder(patient)
                .header("Content-Type", "application/fhir+json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"resourceType\":\"Patient\",\"id\":\"p1\"}"))
                .build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() / 100 == 2;
      } catch (IOException e) {
        return false;
      }
    });

    process.destroy(); // SIGTERM

    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(out, UTF_8))
        .contains("Stopped: 1 change(s) pending in ./data/relay.db will be forwarded at the next start")
        .contains("to list them: java -jar ");
  }
}
