package org.pathlingrelay.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Sends rest-hook notifications shaped as HAPI FHIR JPA 8.8.0 sends them ({@code PUT
 * [base]/Type/id} with {@code If-Match}, FHIR JSON, a bearer secret; {@code DELETE [base]/Type/id}), over one HTTP/1.1 client
 * whose connections are reused; the callers bound the concurrency.
 */
final class HapiNotifications {

  /** One notification: the resource's type and id, and its body (none for a delete). */
  record Notification(String type, String id, String body) {
    static Notification delete(String type, String id) {
      return new Notification(type, id, null);
    }

    boolean isDelete() {
      return body == null;
    }

    String key() {
      return type + "/" + id;
    }
  }

  private final HttpClient http;
  private final String secret;

  HapiNotifications(String secret) {
    this.secret = secret;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .build();
  }

  /** Sends one notification and returns the status (0 when the connection failed). */
  int send(String fhirBase, Notification notification) throws InterruptedException {
    HttpRequest.Builder builder = HttpRequest.newBuilder(
            URI.create(fhirBase + "/" + notification.type() + "/" + notification.id()))
        .timeout(Duration.ofSeconds(30))
        .header("Accept", "application/fhir+json;q=1.0, application/json+fhir;q=0.9")
        .header("User-Agent", "HAPI-FHIR/8.8.0 (FHIR Client; FHIR 4.0.1/R4; apache)")
        .header("Authorization", "Bearer " + secret);
    HttpRequest request = notification.isDelete()
        ? builder.DELETE().build() // HAPI's rest-hook sends a deleted resource's DELETE without a body
        : builder.header("If-Match", "W/\"1\"")
            .header("Content-Type", "application/fhir+json; charset=UTF-8")
            .PUT(HttpRequest.BodyPublishers.ofString(notification.body()))
            .build();
    try {
      return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return 0;
    }
  }
}
