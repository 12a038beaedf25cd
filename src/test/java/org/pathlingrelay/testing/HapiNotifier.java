package org.pathlingrelay.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Sends notifications to the relay exactly as HAPI FHIR JPA 8.8.0's rest-hook does (method, path,
 * headers, body), over real HTTP. The shapes come from the captured wire fixtures.
 */
public final class HapiNotifier {

  /** Where the captured HAPI wire traffic lives. */
  public static final Path WIRE = Path.of("src", "test", "fixtures", "hapi-8.8.0-wire");

  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final Set<String> RESTRICTED = Set.of("content-length", "connection", "host");

  private final String relayBase;
  private final String secret;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  public HapiNotifier(String relayBase, String secret) {
    this.relayBase = relayBase;
    this.secret = secret;
  }

  /** The answer to one notification. */
  public record Answer(int status, String body, HttpHeaders headers) {
    public boolean acknowledged() {
      return status >= 200 && status < 300;
    }
  }

  /** {@code PUT [base]/Type/id} with If-Match, as HAPI sends a create or update. */
  public Answer put(String type, String id, long version, String json) {
    return send(putRequest(type, id, version, json));
  }

  /** {@link #put(String, String, long)} without waiting for the answer, to have several in flight. */
  public CompletableFuture<Answer> putAsync(String type, String id, long version) {
    return http.sendAsync(putRequest(type, id, version, resource(type, id, version)).timeout(TIMEOUT).build(),
            HttpResponse.BodyHandlers.ofString())
        .thenApply(HapiNotifier::answer);
  }

  private HttpRequest.Builder putRequest(String type, String id, long version, String json) {
    return HttpRequest.newBuilder(URI.create(relayBase + "/" + type + "/" + id))
            .header("If-Match", "W/\"" + version + "\"")
            .header("Content-Type", "application/fhir+json; charset=UTF-8")
            .header("Accept", "application/fhir+json;q=1.0, application/json+fhir;q=0.9")
            .header("User-Agent", "HAPI-FHIR/8.8.0 (FHIR Client; FHIR 4.0.1/R4; apache)")
            .header("Authorization", "Bearer " + secret)
            .PUT(HttpRequest.BodyPublishers.ofString(json));
  }

  /** A resource with {@code meta.versionId}, shaped as HAPI sends it. */
  public Answer put(String type, String id, long version) {
    return put(type, id, version, resource(type, id, version));
  }

  public static String resource(String type, String id, long version) {
    return "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\""
        + version + "\",\"lastUpdated\":\"2026-11-22T17:42:04.180+00:00\"}}";
  }

  public Answer delete(String type, String id) {
    return send(
        HttpRequest.newBuilder(URI.create(relayBase + "/" + type + "/" + id))
            .header("Accept", "application/fhir+json;q=1.0, application/json+fhir;q=0.9")
            .header("Authorization", "Bearer " + secret)
            .DELETE());
  }

  /** Replays a captured request, pointed at this relay, with its own headers and body. */
  public Answer replay(String fixture) {
    try {
      JsonNode captured = new ObjectMapper().readTree(WIRE.resolve(fixture).toFile());
      String path = captured.get("path").asText().replaceFirst("^/fhir", "");
      HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(relayBase + path));
      Iterator<Map.Entry<String, JsonNode>> headers = captured.get("headers").fields();
      while (headers.hasNext()) {
        Map.Entry<String, JsonNode> header = headers.next();
        if (!RESTRICTED.contains(header.getKey().toLowerCase())) {
          request.header(header.getKey(), header.getValue().asText());
        }
      }
      String body = captured.get("body").asText();
      request.method(
          captured.get("method").asText(),
          body.isEmpty() ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
      return send(request);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Answer send(HttpRequest.Builder request) {
    try {
      return answer(http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static Answer answer(HttpResponse<String> response) {
    return new Answer(response.statusCode(), response.body(), response.headers());
  }

  public HttpClient http() {
    return http;
  }
}
