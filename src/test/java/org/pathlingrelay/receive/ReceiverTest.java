package org.pathlingrelay.receive;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.HapiNotifier.Answer;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ReceiverSettings;
import org.slf4j.LoggerFactory;

/**
 * What the receiver accepts and what it refuses. Pathling is unreachable here (port 1), so every
 * accepted change stays pending where the test can see it.
 */
class ReceiverTest {

  private static final String JSON = "application/fhir+json; charset=UTF-8";
  private static final String SECRET = RelayHarness.SECRET;

  @TempDir static Path dataDir;
  private static Relay relay;
  private static HapiNotifier source;
  private static String base;
  private static ListAppender<ILoggingEvent> logs;

  @BeforeAll
  static void start() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, "http://127.0.0.1:1/fhir", ForwardMode.BATCH));
    base = RelayHarness.fhirBase(relay);
    source = new HapiNotifier(base, SECRET);
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  @AfterAll
  static void stop() {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    relay.close();
  }

  @BeforeEach
  void clearLogs() {
    logs.list.clear();
  }

  private static List<PendingChange> pending(String type) {
    return relay.outbox().oldest(type, 1_000);
  }

  private static long pendingCount() {
    return relay.outbox().stats().pending();
  }

  private static HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(base + path));
  }

  // ---- what is accepted ----

  @Test
  void capturedHapiNotifications_areAcknowledgedAndQueued() {
    assertThat(source.replay("01-create-put.json").status()).isEqualTo(200);
    assertThat(source.replay("02-update-put.json").status()).isEqualTo(200);
    assertThat(pending("Patient"))
        .filteredOn(p -> p.key().id().equals("wire-1795369324"))
        .singleElement()
        .satisfies(p -> assertThat(p.change().stamp().versionNumber()).isEqualTo(2L));

    assertThat(source.replay("03-delete.json").status()).isEqualTo(200);
    assertThat(pending("Patient"))
        .filteredOn(p -> p.key().id().equals("wire-1795369324"))
        .singleElement()
        .satisfies(p -> assertThat(p.operation()).isEqualTo(Operation.DELETE));
  }

  @Test
  void emptyPostWithoutPayload_isAPing_countedAndAnswered200() {
    long pings = relay.outbox().stats().pings();
    long before = pendingCount();
    Answer answer = source.replay("04-no-payload-post.json");
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).contains("OperationOutcome");
    assertThat(relay.outbox().stats().pings()).isEqualTo(pings + 1);
    assertThat(relay.outbox().stats().lastPingAt()).isNotNull();
    assertThat(pendingCount()).isEqualTo(before);
  }

  @Test
  void xmlBody_isAcceptedAndStoredAsJson() {
    Answer answer =
        source.send(
            request("/Patient/xml1")
                .header("Authorization", "Bearer " + SECRET)
                .header("Content-Type", "application/fhir+xml")
                .PUT(BodyPublishers.ofString(
                    "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"xml1\"/>"
                        + "<meta><versionId value=\"7\"/></meta><gender value=\"male\"/></Patient>")));
    assertThat(answer.status()).isEqualTo(200);
    assertThat(pending("Patient"))
        .filteredOn(p -> p.key().id().equals("xml1"))
        .singleElement()
        .satisfies(p -> {
          assertThat(p.change().body()).startsWith("{").contains("\"gender\":\"male\"");
          assertThat(p.change().stamp().versionNumber()).isEqualTo(7L);
        });
  }

  @Test
  void postOfAResourceWithAnId_isAnUpsert() {
    Answer answer =
        source.send(
            request("/Observation")
                .header("Authorization", "Bearer " + SECRET)
                .header("Content-Type", JSON)
                .POST(BodyPublishers.ofString(HapiNotifier.resource("Observation", "posted", 1))));
    assertThat(answer.status()).isBetween(200, 201);
    assertThat(pending("Observation")).extracting(p -> p.key().id()).contains("posted");
  }

  @Test
  void preferReturnOperationOutcome_isToldWhatTheOutboxDid() {
    java.util.function.IntFunction<Answer> put = version -> source.send(
        request("/Observation/told")
            .header("Authorization", "Bearer " + SECRET)
            .header("Content-Type", JSON)
            .header("Prefer", "return=OperationOutcome")
            .PUT(BodyPublishers.ofString(HapiNotifier.resource("Observation", "told", version))));

    Answer stored = put.apply(3);
    assertThat(stored.status()).isEqualTo(200);
    assertThat(stored.body()).contains("OperationOutcome").contains("Observation/told upsert stored for forwarding");

    Answer older = put.apply(2);
    assertThat(older.status()).isEqualTo(200);
    assertThat(older.body()).contains("Observation/told ignored: a newer or equal version is already held");
    assertThat(pending("Observation"))
        .filteredOn(p -> p.key().id().equals("told"))
        .singleElement()
        .satisfies(p -> assertThat(p.change().stamp().versionNumber()).isEqualTo(3L));
  }

  @Test
  void bundleOfEntries_becomesOneChangePerEntry_andIsAnsweredEntryForEntry() {
    String bundle =
        """
        {"resourceType":"Bundle","type":"history","entry":[
          {"fullUrl":"http://source/fhir/Condition/b1/_history/2",
           "resource":{"resourceType":"Condition","id":"b1","meta":{"versionId":"2"}},
           "request":{"method":"PUT","url":"Condition/b1"}},
          {"fullUrl":"urn:uuid:0b8a0b4e-6a9a-4e0a-8d8c-111111111111",
           "resource":{"resourceType":"Condition","id":"b2"},
           "request":{"method":"POST","url":"Condition"}},
          {"request":{"method":"DELETE","url":"Condition/b3"}}
        ]}""";
    Answer answer =
        source.send(
            request("")
                .header("Authorization", "Bearer " + SECRET)
                .header("Content-Type", JSON)
                .POST(BodyPublishers.ofString(bundle)));
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).contains("batch-response").contains("Condition/b1").contains("Condition/b3");
    assertThat(pending("Condition"))
        .extracting(p -> p.key().id() + ":" + p.operation())
        .contains("b1:UPSERT", "b2:UPSERT", "b3:DELETE");
  }

  @Test
  void transactionBundle_isAnsweredWithATransactionResponse() {
    String bundle =
        """
        {"resourceType":"Bundle","type":"transaction","entry":[
          {"resource":{"resourceType":"Procedure","id":"t1"},"request":{"method":"PUT","url":"Procedure/t1"}}
        ]}""";
    Answer answer =
        source.send(
            request("")
                .header("Authorization", "Bearer " + SECRET)
                .header("Content-Type", JSON)
                .POST(BodyPublishers.ofString(bundle)));
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).contains("transaction-response");
  }

  @Test
  void aSecondSecret_isAcceptedToo_forRotation() throws Exception {
    Path otherDir = dataDir.resolve("rotation");
    var config = RelayHarness.config(otherDir, "http://127.0.0.1:1/fhir", ForwardMode.BATCH);
    var receiver = config.receiver();
    var rotating = new RelayConfig(
        new ReceiverSettings(receiver.bind(), 0, List.of("old-secret", "new-secret"), false, receiver.maxBodyBytes()),
        otherDir, config.forwarding());
    try (Relay second = RelayHarness.start(rotating)) {
      String url = RelayHarness.fhirBase(second);
      assertThat(new HapiNotifier(url, "old-secret").put("Patient", "r1", 1).status()).isEqualTo(200);
      assertThat(new HapiNotifier(url, "new-secret").put("Patient", "r2", 1).status()).isEqualTo(200);
      assertThat(new HapiNotifier(url, "other").put("Patient", "r3", 1).status()).isEqualTo(401);
    }
  }

  @Test
  void metadata_needsNoSecret_andDescribesTheReceiver() {
    Answer answer = source.send(request("/metadata").GET());
    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).contains("CapabilityStatement").contains("pathling-relay");
  }

  // ---- what is refused ----

  static Stream<Arguments> badRequests() {
    String patient = HapiNotifier.resource("Patient", "p1", 1);
    String auth = "Bearer " + SECRET;
    return Stream.of(
        Arguments.of("malformed JSON", put("/Patient/p1", auth, JSON, "{\"resourceType\":\"Patient\",\"id\":"), 400),
        Arguments.of("truncated JSON", put("/Patient/p1", auth, JSON, patient.substring(0, patient.length() - 5)), 400),
        Arguments.of("malformed XML", put("/Patient/p1", auth, "application/fhir+xml", "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/>"), 400),
        Arguments.of("not a resource", put("/Patient/p1", auth, JSON, "[1,2,3]"), 400),
        Arguments.of("invalid value", put("/Patient/p1", auth, JSON, "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"birthDate\":\"notadate\"}"), 400),
        Arguments.of("wrong content type", put("/Patient/p1", auth, "text/plain", patient), 415),
        Arguments.of("form content type with a body", put("/Patient/p1", auth, "application/x-www-form-urlencoded", patient), 415),
        Arguments.of("no content type", put("/Patient/p1", auth, null, patient), 415),
        Arguments.of("empty body", put("/Patient/p1", auth, JSON, ""), 400),
        Arguments.of("id mismatch", put("/Patient/other", auth, JSON, patient), 400),
        Arguments.of("type mismatch", put("/Observation/p1", auth, JSON, patient), 400),
        Arguments.of("body without id", put("/Patient/p1", auth, JSON, "{\"resourceType\":\"Patient\"}"), 400),
        Arguments.of("post without id", post("/Patient", auth, JSON, "{\"resourceType\":\"Patient\"}"), 400),
        Arguments.of("unknown resource type", put("/Foo/p1", auth, JSON, patient.replace("Patient", "Foo")), 404),
        Arguments.of("id of 65 characters", put("/Patient/" + "a".repeat(65), auth, JSON, HapiNotifier.resource("Patient", "a".repeat(65), 1)), 400),
        Arguments.of("id with a path character", put("/Patient/a$b", auth, JSON, HapiNotifier.resource("Patient", "a$b", 1)), 400),
        Arguments.of("id with an underscore", put("/Patient/a_b", auth, JSON, HapiNotifier.resource("Patient", "a_b", 1)), 400),
        Arguments.of("delete of an invalid id", delete("/Patient/a_b", auth), 400),
        Arguments.of("missing secret", put("/Patient/p1", null, JSON, patient), 401),
        Arguments.of("wrong secret", put("/Patient/p1", "Bearer wrong", JSON, patient), 401),
        Arguments.of("prefix of the right secret", put("/Patient/p1", "Bearer " + SECRET.substring(0, 10), JSON, patient), 401),
        Arguments.of("right secret with a suffix", put("/Patient/p1", "Bearer " + SECRET + "x", JSON, patient), 401),
        Arguments.of("basic instead of bearer", put("/Patient/p1", "Basic " + SECRET, JSON, patient), 401),
        Arguments.of("ping without secret", post("", null, "application/x-www-form-urlencoded", ""), 401),
        Arguments.of("delete without secret", delete("/Patient/p1", null), 401),
        Arguments.of("bundle with an entry without id", post("", auth, JSON,
            "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"resource\":" + patient
                + ",\"request\":{\"method\":\"PUT\",\"url\":\"Patient/p1\"}},{\"resource\":{\"resourceType\":\"Patient\"},"
                + "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}"), 400),
        Arguments.of("bundle with a conditional delete", post("", auth, JSON,
            "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient?name=x\"}}]}"), 400),
        Arguments.of("bundle with a GET entry", post("", auth, JSON,
            "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"request\":{\"method\":\"GET\",\"url\":\"Patient/p1\"}}]}"), 400));
  }

  private static HttpRequest.Builder put(String path, String auth, String contentType, String body) {
    return withHeaders(HttpRequest.newBuilder(URI.create("http://placeholder" + path)), auth, contentType)
        .PUT(BodyPublishers.ofString(body, StandardCharsets.UTF_8));
  }

  private static HttpRequest.Builder post(String path, String auth, String contentType, String body) {
    return withHeaders(HttpRequest.newBuilder(URI.create("http://placeholder" + path)), auth, contentType)
        .POST(BodyPublishers.ofString(body, StandardCharsets.UTF_8));
  }

  private static HttpRequest.Builder delete(String path, String auth) {
    return withHeaders(HttpRequest.newBuilder(URI.create("http://placeholder" + path)), auth, null).DELETE();
  }

  private static HttpRequest.Builder withHeaders(HttpRequest.Builder builder, String auth, String contentType) {
    if (auth != null) {
      builder.header("Authorization", auth);
    }
    if (contentType != null) {
      builder.header("Content-Type", contentType);
    }
    return builder;
  }

  @ParameterizedTest(name = "{0} -> {2}")
  @MethodSource("badRequests")
  void badRequest_getsA4xxOperationOutcome_changesNothing_andIsLoggedOnceWithoutSecrets(
      String what, HttpRequest.Builder template, int expectedStatus) {
    HttpRequest prototype = template.build();
    HttpRequest.Builder aimed = HttpRequest.newBuilder(
        URI.create(base + prototype.uri().getRawPath().replaceFirst("^/?", "/").replaceFirst("^/$", "")));
    prototype.headers().map().forEach((name, values) -> values.forEach(v -> aimed.header(name, v)));
    aimed.method(prototype.method(), prototype.bodyPublisher().orElse(BodyPublishers.noBody()));
    long before = pendingCount();

    // A fresh connection per bad request: a refused body is not read, so the relay closes the
    // connection after answering, and a pooled client could race that close.
    Answer answer = new HapiNotifier(base, SECRET).send(aimed);

    assertThat(answer.status()).as(what).isEqualTo(expectedStatus);
    // The outcome comes in the request's format: JSON, or XML for an XML request.
    assertThat(answer.body()).containsAnyOf("\"resourceType\":\"OperationOutcome\"", "<OperationOutcome");
    assertThat(answer.body()).containsAnyOf("\"severity\":\"error\"", "<severity value=\"error\"");
    assertThat(answer.body()).doesNotContain(SECRET).doesNotContain("at org.").doesNotContain("at ca.uhn");
    assertThat(pendingCount()).as("nothing enqueued").isEqualTo(before);
    List<String> refusals = logs.list.stream()
        .filter(e -> e.getLoggerName().endsWith("RejectionLogger"))
        .map(ILoggingEvent::getFormattedMessage)
        .toList();
    assertThat(refusals).as("logged once").hasSize(1);
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage).noneMatch(m -> m.contains(SECRET));
  }

  @Test
  void bodyOverTheLimit_isRefusedWith413_withoutReadingItAll() throws Exception {
    byte[] huge = new byte[17 * 1024 * 1024];
    java.util.Arrays.fill(huge, (byte) ' ');
    long before = pendingCount();
    assertThat(uploadStatus(huge, false)).as("declared length").isEqualTo(413);
    assertThat(uploadStatus(huge, true)).as("chunked").isEqualTo(413);
    assertThat(pendingCount()).isEqualTo(before);
  }

  /**
   * A declared length over the limit is refused before reading; without one (chunked) the limit
   * applies while reading. Either way the relay answers without taking the whole body, so the
   * sender sees its upload cut off: read the answer on a raw socket.
   */
  private static int uploadStatus(byte[] body, boolean chunked) throws Exception {
    URI uri = URI.create(base);
    try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
      socket.setSoTimeout(20_000);
      java.io.OutputStream out = socket.getOutputStream();
      Thread writer = new Thread(() -> {
        try {
          out.write(("PUT /fhir/Patient/big HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + SECRET
              + "\r\nContent-Type: " + JSON + "\r\n"
              + (chunked ? "Transfer-Encoding: chunked" : "Content-Length: " + body.length)
              + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          if (!chunked) {
            out.write(body);
            out.flush();
            return;
          }
          for (int offset = 0; offset < body.length; offset += 65_536) {
            int length = Math.min(65_536, body.length - offset);
            out.write((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body, offset, length);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
          }
          out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          out.flush();
        } catch (java.io.IOException cutOff) {
          // expected once the relay has answered
        }
      });
      writer.start();
      java.io.BufferedReader in = new java.io.BufferedReader(
          new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
      String statusLine = in.readLine();
      writer.join(20_000);
      return Integer.parseInt(statusLine.split(" ")[1]);
    }
  }

  @Test
  void operationsEndpoints_reportStatusHealthAndMetrics() {
    source.put("Patient", "ops1", 1);
    String root = base.replace("/fhir", "");
    Answer health = source.send(HttpRequest.newBuilder(URI.create(root + "/healthz")).GET());
    Answer ready = source.send(HttpRequest.newBuilder(URI.create(root + "/readyz")).GET());
    Answer status = source.send(HttpRequest.newBuilder(URI.create(root + "/status")).GET());
    Answer metrics = source.send(HttpRequest.newBuilder(URI.create(root + "/metrics")).GET());
    assertThat(health.status()).isEqualTo(200);
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.body()).contains("\"outboxWritable\" : true");
    assertThat(status.body())
        .contains("\"pending\"", "\"oldestPendingAgeSeconds\"", "\"deadLetters\"", "\"staleDrops\"", "\"pings\"",
            "\"lastSuccessfulForward\"", "\"circuitState\"", "\"meanRequestSize\"");
    assertThat(metrics.body())
        .contains("relay_notifications_received_total", "relay_outbox_pending", "resilience4j_circuitbreaker_state",
            "jvm_memory_used_bytes");
    assertThat(status.body() + metrics.body()).doesNotContain(SECRET);
  }
}
