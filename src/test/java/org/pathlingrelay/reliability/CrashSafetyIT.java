package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
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
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiNotifier;

/**
 * The real jar, on a real data dir, killed with SIGKILL at random moments while HAPI-shaped
 * notifications stream in from many connections and batches are in flight to Pathling; restarted
 * on the same data dir each time. Senders retry what was not acknowledged, as HAPI does. At the
 * end Pathling must hold exactly the source's truth: the newest version of every resource, no
 * deleted one, and no duplicate rows.
 */
class CrashSafetyIT {

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final String SECRET = "crash-test-secret";
  private static final int RESOURCES = 300;
  private static final int VERSIONS = 4;
  private static final int KILLS = 4;

  @TempDir Path dataDir;

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private Process startRelay(int port) throws IOException {
    Path jar = Path.of("target", "pathling-relay.jar");
    assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
    Process process = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar", jar.toString(), "serve",
        "--bind", "127.0.0.1", "--port", Integer.toString(port), "--data-dir", dataDir.toString(),
        "--pathling-url", pathling.baseUrl(), "--receiver-secret", SECRET, "--linger", "50ms", "--batch-max", "200")
        .redirectErrorStream(true)
        .redirectOutput(dataDir.resolveSibling(dataDir.getFileName() + "-relay.log").toFile())
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

  /** One notification the source must get acknowledged, however many kills it takes. */
  private record Notification(String id, int version, boolean delete) {}

  @Test
  void killedRepeatedlyMidStream_nothingAcknowledgedIsLost_nothingStale_nothingDuplicated() throws Exception {
    pathling.setWriteDelay(Duration.ofMillis(150), Duration.ofNanos(200_000));
    int port = freePort();
    Random random = new Random(7);

    // The source's history: every resource updated VERSIONS times; every fifth then deleted.
    List<List<Notification>> perResource = new ArrayList<>();
    for (int r = 0; r < RESOURCES; r++) {
      List<Notification> history = new ArrayList<>();
      for (int v = 1; v <= VERSIONS; v++) {
        history.add(new Notification("c" + r, v, false));
      }
      if (r % 5 == 0) {
        history.add(new Notification("c" + r, VERSIONS + 1, true));
      }
      perResource.add(history);
    }

    AtomicLong sent = new AtomicLong();
    AtomicLong acknowledged = new AtomicLong();
    AtomicLong refusedOrCut = new AtomicLong();
    AtomicInteger nextResource = new AtomicInteger();
    AtomicBoolean done = new AtomicBoolean();
    Map<String, Integer> ackedVersion = new ConcurrentHashMap<>();

    Process relay = startRelay(port);
    ExecutorService senders = Executors.newFixedThreadPool(8);
    HapiNotifier notifier = new HapiNotifier("http://127.0.0.1:" + port + "/fhir", SECRET);
    for (int t = 0; t < 8; t++) {
      senders.submit(() -> {
        int r;
        while ((r = nextResource.getAndIncrement()) < RESOURCES) {
          for (Notification n : perResource.get(r)) {
            // Retry until acknowledged, as HAPI's rest-hook client does (for 60 s; here without limit).
            while (true) {
              sent.incrementAndGet();
              try {
                HapiNotifier.Answer answer = n.delete()
                    ? notifier.delete("Condition", n.id())
                    : notifier.put("Condition", n.id(), n.version(),
                        "{\"resourceType\":\"Condition\",\"id\":\"" + n.id() + "\",\"meta\":{\"versionId\":\""
                            + n.version() + "\"},\"code\":{\"text\":\"v" + n.version() + "\"}}");
                if (answer.acknowledged()) {
                  acknowledged.incrementAndGet();
                  ackedVersion.merge(n.id(), n.version(), Math::max);
                  break;
                }
                refusedOrCut.incrementAndGet();
              } catch (RuntimeException connectionCut) {
                refusedOrCut.incrementAndGet();
              }
              try {
                TimeUnit.MILLISECONDS.sleep(100);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
              }
            }
          }
        }
        return null;
      });
    }

    // Kill at random moments while the stream runs and batches are in flight.
    int kills = 0;
    while (kills < KILLS) {
      TimeUnit.MILLISECONDS.sleep(400 + random.nextInt(1200));
      relay.destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL on Linux
      kills++;
      relay = startRelay(port);
    }
    senders.shutdown();
    assertThat(senders.awaitTermination(5, TimeUnit.MINUTES)).as("every notification acknowledged").isTrue();
    done.set(true);

    // Drain, then compare Pathling with the source's truth.
    await("drained").atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> {
      for (List<Notification> history : perResource) {
        Notification last = history.get(history.size() - 1);
        int rows = pathling.rowCount("Condition", last.id());
        if (last.delete() ? rows != 0 : rows != 1
            || !pathling.current("Condition", last.id()).map(c -> c.getMeta().getVersionId()).orElse("")
                .equals(Integer.toString(last.version()))) {
          return false;
        }
      }
      return true;
    });
    relay.destroy();
    relay.waitFor(30, TimeUnit.SECONDS);

    assertThat(pathling.duplicateIds()).as("no duplicate rows").isEmpty();
    int deleted = (int) perResource.stream().filter(h -> h.get(h.size() - 1).delete()).count();
    assertThat(pathling.totalRows()).isEqualTo(RESOURCES - deleted);
    String figures = String.format(
        "crash-safety: %d kills, %d notifications sent, %d acknowledged, %d cut off or refused (retried), %d lost%n",
        kills, sent.get(), acknowledged.get(), refusedOrCut.get(), 0);
    System.out.print(figures);
    Files.writeString(Path.of("target", "crash-safety.txt"), figures);
  }
}
