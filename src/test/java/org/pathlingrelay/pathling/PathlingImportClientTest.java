package org.pathlingrelay.pathling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ca.uhn.fhir.context.FhirContext;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.RetryRegistry;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.r4.model.Parameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.pathling.PathlingImportClient.ImportFailedException;
import org.pathlingrelay.pathling.PathlingImportClient.StagedFile;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RecordedRequest;

/** The bulk loads' calls pass the same Retry, Retry-After handling and circuit breaker as the writes. */
class PathlingImportClientTest {

  @RegisterExtension
  static final FakePathling pathling = new FakePathling();

  @TempDir
  Path dir;

  private PathlingServer server;

  @AfterEach
  void close() throws Exception {
    if (server != null) {
      server.close();
    }
    if (!pathling.isUp()) {
      pathling.comeBack();
    }
    pathling.reset();
  }

  @Test
  void aKickOffToAPathlingThatKeepsFailing_waitsItsRetryAfter_andOpensTheBreakerTheWritesPass() throws Exception {
    pathling.failNext(1_000, 503, Duration.ofSeconds(1));
    // A window of two calls: the second failure opens the breaker, which stays open for the test.
    server = server(new ResilienceSettings(
        3, Duration.ofMillis(10), Duration.ofMillis(10), Duration.ofSeconds(5), Duration.ofMinutes(5), 2));
    PathlingImportClient imports = server.imports(Pause.SLEEP, Duration.ofMillis(10), Duration.ofMillis(10));

    assertThatThrownBy(() -> imports.kickOffImport(List.of(new StagedFile("Patient", patients())), "merge"))
        .isInstanceOf(CallNotPermittedException.class);

    List<RecordedRequest> kickOffs = requestsTo("$import");
    assertThat(kickOffs).as("attempts until the breaker opened").hasSize(2);
    assertThat(Duration.between(kickOffs.get(0).end(), kickOffs.get(1).start()))
        .as("Retry-After: 1 honoured, not the 10 ms back-off").isGreaterThanOrEqualTo(Duration.ofMillis(900));
    assertThat(server.calls().breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
    int requestsBefore = pathling.requests().size();
    PathlingWriter writer = server.writer();
    assertThatThrownBy(() -> server.calls().run(() -> writer.delete(new ResourceKey("Patient", "1"))))
        .as("the forwarder's writes meet the breaker the import opened")
        .isInstanceOf(CallNotPermittedException.class);
    assertThat(pathling.requests()).hasSize(requestsBefore);
  }

  @Test
  void aKickOffRefusedOnceWith503_isSentAgainAfterItsRetryAfter_andTheJobRuns() throws Exception {
    pathling.failNext(1, 503, Duration.ofSeconds(1));
    server = server(new ResilienceSettings(
        3, Duration.ofMillis(10), Duration.ofMillis(10), Duration.ofSeconds(5), Duration.ofMinutes(5), 10));
    PathlingImportClient imports = server.imports(Pause.SLEEP, Duration.ofMillis(50), Duration.ofMillis(200));

    URI job = imports.kickOffImport(List.of(new StagedFile("Patient", patients())), "merge");
    Parameters result = imports.awaitJob(job, progress -> {});

    assertThat(result.getParameter("transactionTime")).isNotNull();
    assertThat(pathling.ids("Patient")).containsExactly("1");
    List<RecordedRequest> kickOffs = requestsTo("$import");
    assertThat(kickOffs).extracting(RecordedRequest::status).containsExactly(503, 202);
    assertThat(Duration.between(kickOffs.get(0).end(), kickOffs.get(1).start()))
        .isGreaterThanOrEqualTo(Duration.ofMillis(900));
  }

  @Test
  void aKickOffPathlingRefuses_failsAtOnce_andDoesNotCountAgainstItsHealth() throws Exception {
    pathling.setAllowableExportUrls("https://allowed.example/");
    server = server(new ResilienceSettings(
        3, Duration.ofMillis(10), Duration.ofMillis(10), Duration.ofSeconds(5), Duration.ofMinutes(5), 10));
    PathlingImportClient imports = server.imports(Pause.SLEEP, Duration.ofMillis(10), Duration.ofMillis(10));

    assertThatThrownBy(() -> imports.kickOffPnp("https://elsewhere.example/fhir", "merge", List.of("Patient"),
        Optional.empty()))
        .isInstanceOf(ImportFailedException.class)
        .hasMessageContaining("Pathling refused $import-pnp with 400");

    assertThat(requestsTo("$import-pnp")).hasSize(1);
    assertThat(server.calls().breaker().getMetrics().getNumberOfFailedCalls()).isZero();
  }

  @Test
  void aJobPolledWhilePathlingIsDown_isPolledAgainOnceItIsBack() throws Exception {
    pathling.setImportDuration(Duration.ofSeconds(1));
    server = server(new ResilienceSettings(
        3, Duration.ofMillis(20), Duration.ofMillis(50), Duration.ofSeconds(5), Duration.ofMillis(100), 10));
    PathlingImportClient imports = server.imports(Pause.SLEEP, Duration.ofMillis(50), Duration.ofMillis(200));
    URI job = imports.kickOffImport(List.of(new StagedFile("Patient", patients())), "merge");

    pathling.goDown();
    CompletableFuture<Parameters> waiting = CompletableFuture.supplyAsync(() -> {
      try {
        return imports.awaitJob(job, progress -> {});
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    Thread.sleep(700);
    assertThat(waiting).as("still waiting for Pathling").isNotDone();
    pathling.comeBack();

    assertThat(waiting.get(20, TimeUnit.SECONDS).getParameter("transactionTime")).isNotNull();
    assertThat(pathling.ids("Patient")).containsExactly("1");
  }

  private static PathlingServer server(ResilienceSettings settings) {
    return new PathlingServer(FhirContext.forR4(), pathling.baseUrl(), AccessTokens.NONE, Duration.ofSeconds(5),
        new PathlingCalls(settings, RetryRegistry.ofDefaults(), CircuitBreakerRegistry.ofDefaults()), Clock.systemUTC());
  }

  /** An NDJSON file of one Patient, as a URL the fake can read. */
  private String patients() throws Exception {
    Path file = dir.resolve("Patient.ndjson");
    Files.writeString(file, "{\"resourceType\":\"Patient\",\"id\":\"1\"}\n");
    return file.toUri().toString();
  }

  private static List<RecordedRequest> requestsTo(String path) {
    return pathling.requests().stream().filter(r -> r.path().equals(path)).toList();
  }
}
