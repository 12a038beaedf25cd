package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real Bulk Data {@code $export} on the real HAPI JPA server, over plain HTTP, driven to the end
 * by maintenance passes from the test instead of HAPI's one-a-minute scheduler.
 */
class HapiJpaServerExportTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void export_drivenByMaintenancePasses_completesWithTheWrittenResources() throws Exception {
    Instant since = Instant.now().minusSeconds(1);
    String run = UUID.randomUUID().toString().substring(0, 8);
    IGenericClient client = hapi.client();
    for (int n = 0; n < 3; n++) {
      Patient patient = new Patient();
      patient.setId("Patient/" + run + "-export-" + n);
      client.update().resource(patient).execute();
    }

    Instant begin = Instant.now();
    HttpResponse<String> kickOff = http.send(
        HttpRequest.newBuilder(URI.create(hapi.baseUrl() + "/$export?_type=Patient&_since=" + since))
            .header("Accept", "application/fhir+json")
            .header("Prefer", "respond-async")
            .build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(kickOff.statusCode()).as(kickOff.body()).isEqualTo(202);
    URI status = URI.create(kickOff.headers().firstValue("Content-Location").orElseThrow());

    AtomicReference<HttpResponse<String>> last = new AtomicReference<>();
    List<Integer> statuses = new ArrayList<>();
    await("export complete")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          hapi.runMaintenancePass();
          HttpResponse<String> poll = http.send(
              HttpRequest.newBuilder(status).header("Accept", "application/json").build(),
              HttpResponse.BodyHandlers.ofString());
          statuses.add(poll.statusCode());
          last.set(poll);
          return poll.statusCode() != 202;
        });
    Duration took = Duration.between(begin, Instant.now());
    System.out.printf("HAPI $export took %d ms over %d polls%n", took.toMillis(), statuses.size());

    HttpResponse<String> done = last.get();
    assertThat(done.statusCode()).as(done.body()).isEqualTo(200);
    JsonNode manifest = new ObjectMapper().readTree(done.body());
    assertThat(manifest.path("output")).isNotEmpty();
    StringBuilder ndjson = new StringBuilder();
    for (JsonNode file : manifest.path("output")) {
      assertThat(file.path("type").asText()).isEqualTo("Patient");
      ndjson.append(http.send(HttpRequest.newBuilder(URI.create(file.path("url").asText())).build(),
          HttpResponse.BodyHandlers.ofString()).body());
    }
    for (int n = 0; n < 3; n++) {
      assertThat(ndjson.toString()).contains("\"id\":\"" + run + "-export-" + n + "\"");
    }
    System.out.println("HAPI manifest: " + done.body().replaceAll("\\s+", " "));
  }
}
