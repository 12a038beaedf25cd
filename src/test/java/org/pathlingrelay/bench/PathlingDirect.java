package org.pathlingrelay.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes to a Pathling as a hand-written client would, for the baselines of {@code bench
 * --pathling-url} and for cleanup: batch Bundles of PUTs and DELETEs, single DELETEs, and the ids
 * of a type ({@code [type]?_elements=id&_count=N}, page by page).
 */
final class PathlingDirect {

  private static final String FHIR_JSON = "application/fhir+json";
  private static final int PAGE = 1_000;

  /** One batch entry: a PUT of {@code body}, or a DELETE when {@code body} is null. */
  record Write(String key, String body) {
    static Write put(String type, String id, String body) {
      return new Write(type + "/" + id, body);
    }

    static Write delete(String key) {
      return new Write(key, null);
    }
  }

  private final String fhirBase;
  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10))
      .build();
  private final ObjectMapper json = new ObjectMapper();

  PathlingDirect(String fhirBase) {
    this.fhirBase = fhirBase.endsWith("/") ? fhirBase.substring(0, fhirBase.length() - 1) : fhirBase;
  }

  /** Sends one batch Bundle; fails unless Pathling answers 2xx. */
  void batch(List<Write> writes) throws IOException, InterruptedException {
    StringBuilder bundle = new StringBuilder("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[");
    for (int i = 0; i < writes.size(); i++) {
      Write write = writes.get(i);
      bundle.append(i == 0 ? "" : ",").append('{');
      if (write.body() != null) {
        bundle.append("\"resource\":").append(write.body()).append(',');
      }
      bundle.append("\"request\":{\"method\":\"").append(write.body() == null ? "DELETE" : "PUT")
          .append("\",\"url\":").append(json.writeValueAsString(write.key())).append("}}");
    }
    bundle.append("]}");
    HttpResponse<String> answer = send(HttpRequest.newBuilder(URI.create(fhirBase))
        .POST(HttpRequest.BodyPublishers.ofString(bundle.toString(), StandardCharsets.UTF_8)));
    if (answer.statusCode() / 100 != 2) {
      throw new IOException("Pathling answered a batch of " + writes.size() + " with " + answer.statusCode() + ": "
          + abbreviate(answer.body()));
    }
  }

  /** Deletes one resource; true when Pathling held it (204), false on 404. */
  boolean delete(String key) throws IOException, InterruptedException {
    HttpResponse<String> answer = send(HttpRequest.newBuilder(URI.create(fhirBase + "/" + key)).DELETE());
    if (answer.statusCode() == 404) {
      return false;
    }
    if (answer.statusCode() / 100 != 2) {
      throw new IOException("Pathling answered DELETE " + key + " with " + answer.statusCode() + ": "
          + abbreviate(answer.body()));
    }
    return true;
  }

  /** The ids Pathling holds of {@code type} that start with {@code prefix}, following the pages. */
  List<String> ids(String type, String prefix) throws IOException, InterruptedException {
    Set<String> ids = new LinkedHashSet<>(); // an id held in two rows is listed twice
    String url = fhirBase + "/" + URLEncoder.encode(type, StandardCharsets.UTF_8) + "?_elements=id&_count=" + PAGE;
    while (url != null) {
      HttpResponse<String> answer = send(HttpRequest.newBuilder(URI.create(url)).GET());
      if (answer.statusCode() != 200) {
        throw new IOException("Pathling answered GET " + url + " with " + answer.statusCode() + ": "
            + abbreviate(answer.body()));
      }
      JsonNode page = json.readTree(answer.body());
      for (JsonNode entry : page.path("entry")) {
        String id = entry.path("resource").path("id").asText("");
        if (id.startsWith(prefix)) {
          ids.add(id);
        }
      }
      url = null;
      for (JsonNode link : page.path("link")) {
        if ("next".equals(link.path("relation").asText())) {
          url = link.path("url").asText(null);
        }
      }
    }
    return List.copyOf(ids);
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
    return http.send(request.timeout(Duration.ofMinutes(10))
        .header("Content-Type", FHIR_JSON)
        .header("Accept", FHIR_JSON)
        .build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private static String abbreviate(String body) {
    return body.length() <= 300 ? body : body.substring(0, 300) + "...";
  }
}
