package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RawHttp;
import org.pathlingrelay.testing.RawRequest;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ReceiverSettings;

/**
 * Hostile and malformed input against a real relay (Jetty, HAPI, SQLite outbox in a temp dir),
 * sent as raw bytes over real sockets. Whatever arrives: never a 5xx, never a hang, never anything
 * stored, never a secret or a stack trace in the answer. {@code ReceiverTest} covers the ordinary
 * refusals (malformed bodies, wrong content types, mismatches, wrong secrets); this corpus covers
 * what a broken or malicious sender does beyond them, and the HTTP limits in {@link HttpLimits}.
 *
 * <p>The relay runs with short timeouts so that the slow cases take seconds, not minutes; the
 * production values are in {@link HttpLimits#DEFAULTS}.
 */
class HostileInputTest {

  private static final String SECRET = RelayHarness.SECRET;
  private static final String AUTH = "Bearer " + SECRET;
  private static final String JSON = "application/fhir+json; charset=UTF-8";
  private static final String XML = "application/fhir+xml; charset=UTF-8";
  private static final long MAX_BODY = 1024 * 1024;
  private static final int MAX_CONCURRENT = 4;
  private static final Duration IDLE = Duration.ofMillis(1_000);
  private static final Duration READ_DEADLINE = Duration.ofMillis(2_000);
  /** Scheduling on a loaded 2-core machine: a cut-off may come this much after its deadline. */
  private static final Duration SLACK = Duration.ofMillis(1_500);
  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);

  @TempDir static Path dataDir;
  private static Relay relay;
  private static RawHttp raw;

  @BeforeAll
  static void start() throws Exception {
    RelayConfig defaults = RelayHarness.config(dataDir, "http://127.0.0.1:1/fhir", ForwardMode.BATCH);
    ReceiverSettings receiver = defaults.receiver();
    RelayConfig config = new RelayConfig(
        new ReceiverSettings(receiver.bind(), 0, receiver.secrets(), false, MAX_BODY,
            new HttpLimits(16 * 1024, IDLE, READ_DEADLINE, MAX_CONCURRENT), Optional.empty()),
        dataDir, defaults.forwarding());
    relay = RelayHarness.start(config);
    raw = new RawHttp("127.0.0.1", relay.port());
  }

  @AfterAll
  static void stop() {
    relay.close();
  }

  @AfterEach
  void noServerThreadIsLeftReadingABody() {
    await("server threads blocked reading a request body")
        .atMost(READ_DEADLINE.plus(SLACK))
        .until(() -> threadsReadingABody().isEmpty());
  }

  // ---- the corpus ----

  static Stream<Arguments> corpus() {
    String patient = HapiNotifier.resource("Patient", "p1", 1);
    String xmlPatient = "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/><gender value=\"male\"/></Patient>";
    List<Arguments> cases = new ArrayList<>();

    // Truncated and malformed bodies, beyond ReceiverTest's.
    for (int cut : new int[] {1, 2, 14, 33, patient.indexOf("versionId") + 4, patient.length() - 1}) {
      cases.add(of("JSON truncated after " + cut + " bytes", put("/Patient/p1", JSON, patient.substring(0, cut)), 400));
    }
    for (int cut : new int[] {1, 9, 40, 47, xmlPatient.length() - 3}) {
      cases.add(of("XML truncated after " + cut + " bytes", put("/Patient/p1", XML, xmlPatient.substring(0, cut)), 400));
    }
    cases.add(of("JSON cut inside a unicode escape", put("/Patient/p1", JSON,
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"\\u00"), 400));
    cases.add(of("JSON with trailing garbage", put("/Patient/p1", JSON, patient + "}}]garbage"), 400));
    cases.add(of("XML with an external entity (XXE)", put("/Patient/p1", XML,
        "<?xml version=\"1.0\"?><!DOCTYPE Patient [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
            + "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/><gender value=\"&xxe;\"/></Patient>"), 400));
    cases.add(of("XML entity expansion (billion laughs)", put("/Patient/p1", XML, billionLaughs()), 400));
    cases.add(of("JSON body sent as XML", put("/Patient/p1", XML, patient), 400));
    cases.add(of("XML body sent as JSON", put("/Patient/p1", JSON, xmlPatient), 400));

    // Deep nesting: must be refused, not overflow a stack.
    cases.add(of("10,000 nested JSON arrays", put("/Patient/p1", JSON,
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"extension\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}"), 400));
    cases.add(of("10,000 nested JSON objects", put("/Patient/p1", JSON,
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"extension\":" + "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000) + "}"), 400));
    cases.add(of("10,000 nested FHIR extensions in XML", put("/Patient/p1", XML,
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/>" + "<extension url=\"u\">".repeat(10_000)
            + "</extension>".repeat(10_000) + "</Patient>"), 400));
    cases.add(of("10,000 nested unknown XML elements", put("/Patient/p1", XML,
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/>" + "<x>".repeat(10_000) + "</x>".repeat(10_000)
            + "</Patient>"), 400));
    cases.add(of("10,000 nested JSON arrays in a Bundle", post("", JSON,
        "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}"), 400));

    // Bytes that are not UTF-8.
    cases.add(of("invalid UTF-8 (FF FE) in a JSON string", put("/Patient/p1", JSON, withBytes(
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"", new byte[] {(byte) 0xFF, (byte) 0xFE}, "\"}]}")), 400));
    cases.add(of("overlong UTF-8 for '/' in a JSON string", put("/Patient/p1", JSON, withBytes(
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"", new byte[] {(byte) 0xC0, (byte) 0xAF}, "\"}]}")), 400));
    cases.add(of("UTF-8 encoded lone surrogate in a JSON string", put("/Patient/p1", JSON, withBytes(
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"", new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, "\"}]}")), 400));
    cases.add(of("UTF-8 sequence cut short before a quote", put("/Patient/p1", JSON, withBytes(
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"", new byte[] {(byte) 0xE2, (byte) 0x82}, "\"}]}")), 400));
    cases.add(of("invalid UTF-8 in an XML attribute", put("/Patient/p1", XML, withBytes(
        "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/><name><family value=\"", new byte[] {(byte) 0xFF}, "\"/></name></Patient>")), 400));
    cases.add(of("invalid UTF-8 in the id", put("/Patient/p1", JSON, withBytes(
        "{\"resourceType\":\"Patient\",\"id\":\"p1", new byte[] {(byte) 0xC3}, "\"}")), 400));

    // Ids that try to leave their path, or are too long.
    cases.add(of("id with a slash", put("/Patient/a/b", JSON, HapiNotifier.resource("Patient", "b", 1)), 400));
    cases.add(of("id '..'", put("/Patient/..", JSON, HapiNotifier.resource("Patient", "..", 1)), 400));
    cases.add(of("id of an encoded slash", put("/Patient/a%2Fb", JSON, HapiNotifier.resource("Patient", "a", 1)), 400));
    cases.add(of("id of encoded dots", put("/Patient/%2E%2E", JSON, HapiNotifier.resource("Patient", "..", 1)), 400));
    cases.add(of("id climbing out with encoded slashes", put("/Patient/..%2F..%2Fetc", JSON, patient), 400));
    cases.add(of("broken %-escape in a path parameter (found by the fuzzer)", request("DELETE", "/Patient/p1;;%;;x"), 400));
    cases.add(of("id with a NUL byte", put("/Patient/p1%00", JSON, patient), 400));
    cases.add(of("id with a space", put("/Patient/p%201", JSON, HapiNotifier.resource("Patient", "p 1", 1)), 400));
    cases.add(of("id of 1,000 characters", put("/Patient/" + "a".repeat(1_000), JSON,
        HapiNotifier.resource("Patient", "a".repeat(1_000), 1)), 400));
    cases.add(of("conditional delete without an id (found by the fuzzer)", request("DELETE", "/Patient?name=x"), 400));
    cases.add(of("delete of the type", request("DELETE", "/Patient"), 400));
    cases.add(of("delete of a 65-character id", request("DELETE", "/Patient/" + "a".repeat(65)), 400));
    cases.add(of("delete of an encoded slash", request("DELETE", "/Patient/a%2Fb"), 400));
    cases.add(of("Bundle entry with '..' in its URL", post("", JSON, bundle(
        "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/../Observation/x\"}}")), 400));
    cases.add(of("Bundle entry deleting a 65-character id", post("", JSON, bundle(
        "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/" + "a".repeat(65) + "\"}}")), 400));

    // Unknown types and type/id mismatches, beyond ReceiverTest's.
    cases.add(of("lower-case resource type", put("/patient/p1", JSON, patient), 404));
    cases.add(of("body of an unknown type", put("/Patient/p1", JSON, "{\"resourceType\":\"Foo\",\"id\":\"p1\"}"), 400));
    cases.add(of("body without resourceType", put("/Patient/p1", JSON, "{\"id\":\"p1\"}"), 400));
    cases.add(of("numeric resourceType", put("/Patient/p1", JSON, "{\"resourceType\":7,\"id\":\"p1\"}"), 400));
    cases.add(of("XML type mismatch", put("/Observation/p1", XML, xmlPatient), 400));
    cases.add(of("Bundle entry whose resource type differs from its URL", post("", JSON, bundle(
        "{\"resource\":{\"resourceType\":\"Observation\",\"id\":\"a\"},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/a\"}}")), 400));
    cases.add(of("Bundle entry whose resource id differs from its URL", post("", JSON, bundle(
        "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"b\"},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/a\"}}")), 400));
    cases.add(of("Bundle entry deleting an unknown type", post("", JSON, bundle(
        "{\"request\":{\"method\":\"DELETE\",\"url\":\"Foo/a\"}}")), 400));
    cases.add(of("Bundle of type document", post("", JSON,
        "{\"resourceType\":\"Bundle\",\"type\":\"document\",\"entry\":[{\"resource\":" + patient + "}]}"), 400));

    // Content types and body framing.
    cases.add(of("content type with an unterminated quote (found by the fuzzer)",
        put("/Patient/p1", "application/fhir{\"son+", patient), 400));
    cases.add(of("charset name that is not a name (found by the fuzzer)",
        put("/Patient/p1", "application/fhir+json; charset=UTF-8`", patient), 415));
    cases.add(of("charset with a stray quote (found by the fuzzer)",
        put("/Patient/p1", "application/fhir+json; charset=UTF-8\"W", patient), 415));
    cases.add(of("unknown charset", put("/Patient/p1", "application/fhir+json; charset=x-no-such", patient), 415));
    cases.add(of("charset other than UTF-8", put("/Patient/p1", "application/fhir+json; charset=ISO-8859-1", patient), 415));
    cases.add(of("bogus charset on an empty PUT (found by the fuzzer)",
        put("/Patient/p1", "a OSpplication/x-www-fo-dmore; charset=UTF-8`", ""), 415));
    cases.add(of("form body over Jetty's form limit", put("/Patient/p1", "application/x-www-form-urlencoded",
        "a=" + "b".repeat(300_000)), 400));
    cases.add(of("multipart body", put("/Patient/p1", "multipart/form-data; boundary=x", patient), 415));
    cases.add(of("octet-stream body", put("/Patient/p1", "application/octet-stream", patient), 415));
    cases.add(of("gzip-encoded body", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Content-Encoding", "gzip").body(gzip(patient)), 415));
    cases.add(of("gzip bomb (64 MiB inflated, 64 KiB compressed)", RawRequest.of("PUT", "/fhir/Patient/p1")
        .header("Authorization", AUTH).header("Content-Type", JSON).header("Content-Encoding", "gzip")
        .body(gzipBomb(64)), 415));
    cases.add(of("declared length of 10^18 bytes", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Content-Length", "1000000000000000000").withoutContentLength().body(patient), 413));
    cases.add(of("negative declared length", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Content-Length", "-1").withoutContentLength().body(patient), 400));
    cases.add(of("non-numeric declared length", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Content-Length", "12abc").withoutContentLength().body(patient), 400));
    cases.add(of("two different declared lengths", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Content-Length", "10").header("Content-Length", String.valueOf(patient.length()))
        .withoutContentLength().body(patient), 400));
    cases.add(of("declared length and chunked together (smuggling)", RawRequest.of("PUT", "/fhir/Patient/p1")
        .header("Authorization", AUTH).header("Content-Type", JSON).header("Content-Length", "4")
        .header("Transfer-Encoding", "chunked").withoutContentLength().body(chunked(patient)), 400));
    cases.add(of("chunk size that is not hex", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Transfer-Encoding", "chunked").withoutContentLength()
        .body("zz\r\n" + patient + "\r\n0\r\n\r\n"), 400));
    cases.add(of("chunked body over the limit", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", AUTH)
        .header("Content-Type", JSON).header("Transfer-Encoding", "chunked").withoutContentLength()
        .body(chunked(" ".repeat((int) MAX_BODY + 1) + patient)), 413));

    // Headers and request lines over the limit, and broken HTTP.
    cases.add(of("20 KiB header", put("/Patient/p1", JSON, patient).header("X-Padding", "x".repeat(20 * 1024)), 431));
    cases.add(of("1,000 small headers", manyHeaders(put("/Patient/p1", JSON, patient), 1_000), 431));
    cases.add(of("20 KiB bearer token", RawRequest.of("PUT", "/fhir/Patient/p1").header("Authorization", "Bearer " + "s".repeat(20 * 1024))
        .header("Content-Type", JSON).body(patient), 431));
    cases.add(of("20 KiB URL", put("/Patient/" + "a".repeat(20 * 1024), JSON, patient), 414));
    cases.add(of("header line without a colon", put("/Patient/p1", JSON, patient).rawHeaderLine("NoColonHere"), 400));
    cases.add(of("HTTP/1.1 without Host", withoutHost(), 400));
    cases.add(of("not HTTP at all (a TLS hello)", new RawBytes(new byte[] {0x16, 0x03, 0x01, 0x00, (byte) 0xa5, 0x01, 0x00, 0x00,
        (byte) 0xa1, 0x03, 0x03, '\r', '\n', '\r', '\n'}), 400));
    cases.add(of("unknown method", request("BREW", "/Patient/p1"), 405));
    cases.add(of("TRACE (would echo the Authorization header)", request("TRACE", "/Patient/p1"), 405));
    cases.add(of("TRACE on an ops endpoint", RawRequest.of("TRACE", "/status").header("Authorization", AUTH), 405));
    cases.add(of("PATCH", put("/Patient/p1", "application/json-patch+json", "[]").method("PATCH"), 400));
    cases.add(of("GET of a resource (the relay stores nothing to read)", request("GET", "/Patient/p1"), 400));

    // Secrets, beyond ReceiverTest's.
    cases.add(of("empty bearer token", put("/Patient/p1", JSON, patient).auth("Bearer "), 401));
    cases.add(of("bearer without a space", put("/Patient/p1", JSON, patient).auth("Bearer" + SECRET), 401));
    cases.add(of("secret in upper case", put("/Patient/p1", JSON, patient).auth("Bearer " + SECRET.toUpperCase()), 401));
    cases.add(of("wrong secret of the right length", put("/Patient/p1", JSON, patient).auth("Bearer " + "x".repeat(SECRET.length())), 401));
    cases.add(of("secret in the query string", RawRequest.of("PUT", "/fhir/Patient/p1?secret=" + SECRET)
        .header("Content-Type", JSON).body(patient), 401));
    cases.add(of("prefix of the secret, with a body over the limit", RawRequest.of("PUT", "/fhir/Patient/p1")
        .header("Authorization", "Bearer " + SECRET.substring(0, SECRET.length() - 1)).header("Content-Type", JSON)
        .body(" ".repeat((int) MAX_BODY * 2)), 401));
    cases.add(of("wrong secret first, right one second", put("/Patient/p1", JSON, patient).auth("Bearer wrong").auth(AUTH), 401));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} -> {2}")
  @MethodSource("corpus")
  void hostileRequest_getsA4xxOutcome_storesNothing_andLeaksNothing(String what, Sendable request, int expected)
      throws IOException {
    long recordedBefore = recorded();

    RawHttp.Answer answer = raw.exchange(request.bytes(), ANSWER_TIMEOUT);

    assertThat(answer.status()).as(what).isEqualTo(expected);
    if (!answer.body().isEmpty()) {
      assertThat(answer.body()).as("a FHIR outcome, not Jetty's error page")
          .containsAnyOf("\"resourceType\":\"OperationOutcome\"", "<OperationOutcome");
    }
    assertLeaksNothing(answer);
    assertThat(recorded()).as("nothing enqueued").isEqualTo(recordedBefore);
  }

  // ---- what takes time ----

  @Test
  void chunkedBodyThatNeverEnds_isCutOffByTheReadDeadline() throws Exception {
    long recordedBefore = recorded();
    try (Socket socket = raw.open(ANSWER_TIMEOUT)) {
      OutputStream out = socket.getOutputStream();
      out.write(head("PUT", "/fhir/Patient/p1", "Transfer-Encoding: chunked\r\nContent-Type: " + JSON));
      long start = System.nanoTime();
      AtomicBoolean closed = trickle(out, "3\r\n   \r\n".getBytes(StandardCharsets.US_ASCII), Duration.ofMillis(200));

      RawHttp.Answer answer = RawHttp.read(socket.getInputStream(), start);

      assertThat(answer.closedWithoutAnswer() || answer.status() == 408)
          .as("cut off (closed, or 408), got " + answer.status()).isTrue();
      assertThat(answer.elapsed()).isBetween(READ_DEADLINE.minus(SLACK), READ_DEADLINE.plus(SLACK));
      await("the writer sees the connection closed").atMost(SLACK).untilTrue(closed);
      assertLeaksNothing(answer);
    }
    assertThat(recorded()).as("nothing enqueued").isEqualTo(recordedBefore);
  }

  @Test
  void chunkedBodyThatStalls_isCutOffByTheIdleTimeout_withoutA5xx() throws Exception {
    long recordedBefore = recorded();
    try (Socket socket = raw.open(ANSWER_TIMEOUT)) {
      OutputStream out = socket.getOutputStream();
      long start = System.nanoTime();
      out.write(head("PUT", "/fhir/Patient/p1", "Transfer-Encoding: chunked\r\nContent-Type: " + JSON));
      out.write("10\r\n{\"resourceType\":".getBytes(StandardCharsets.US_ASCII));
      out.flush();

      RawHttp.Answer answer = RawHttp.read(socket.getInputStream(), start);

      assertThat(answer.status()).as(answer.body()).isEqualTo(408);
      assertThat(answer.body()).contains("\"resourceType\":\"OperationOutcome\"");
      assertThat(answer.elapsed()).isLessThan(IDLE.plus(SLACK));
      assertLeaksNothing(answer);
    }
    assertThat(recorded()).as("nothing enqueued").isEqualTo(recordedBefore);
  }

  @Test
  void declaredBodyThatNeverArrivesInFull_isCutOff_withoutA5xx() throws Exception {
    long recordedBefore = recorded();
    try (Socket socket = raw.open(ANSWER_TIMEOUT)) {
      OutputStream out = socket.getOutputStream();
      long start = System.nanoTime();
      out.write(head("PUT", "/fhir/Patient/p1", "Content-Length: 100000\r\nContent-Type: " + JSON));
      trickle(out, " ".getBytes(StandardCharsets.US_ASCII), Duration.ofMillis(100));

      RawHttp.Answer answer = RawHttp.read(socket.getInputStream(), start);

      assertThat(answer.closedWithoutAnswer() || answer.status() == 408)
          .as("cut off (closed, or 408), got " + answer.status()).isTrue();
      assertThat(answer.elapsed()).isLessThan(READ_DEADLINE.plus(SLACK));
    }
    assertThat(recorded()).as("nothing enqueued").isEqualTo(recordedBefore);
  }

  @Test
  void keepAliveConnection_isNotOnTheClockBetweenRequests() throws Exception {
    // Four requests on one connection, spread over more than the read deadline; each gap stays
    // under the idle timeout, which is what governs a connection between requests.
    int requests = 4;
    Duration gap = IDLE.multipliedBy(3).dividedBy(4);
    assertThat(gap.multipliedBy(requests - 1)).isGreaterThan(READ_DEADLINE);
    try (Socket socket = raw.open(ANSWER_TIMEOUT)) {
      OutputStream out = socket.getOutputStream();
      for (int i = 0; i < requests; i++) {
        byte[] request = keepAlivePut("kept" + i);
        writers.schedule(() -> {
          out.write(request);
          out.flush();
          return null;
        }, gap.multipliedBy(i).toMillis(), TimeUnit.MILLISECONDS);
      }
      for (int i = 0; i < requests; i++) {
        RawHttp.Answer answer = RawHttp.readOne(socket.getInputStream(), System.nanoTime());
        assertThat(answer.status()).as("request %d on the kept-alive connection", i).isEqualTo(200);
      }
    }
  }

  @Test
  void slowLorisHeaders_areCutOffByTheReadDeadline() throws Exception {
    try (Socket socket = raw.open(ANSWER_TIMEOUT)) {
      long start = System.nanoTime();
      AtomicBoolean closed = trickleBytes(socket.getOutputStream(),
          head("PUT", "/fhir/Patient/p1", "Content-Type: " + JSON + "\r\nX-Slow: " + "z".repeat(1_000)), Duration.ofMillis(100));

      RawHttp.Answer answer = RawHttp.read(socket.getInputStream(), start);

      assertThat(answer.closedWithoutAnswer() || answer.status() == 408)
          .as("cut off (closed, or 408), got " + answer.status()).isTrue();
      assertThat(answer.elapsed()).isBetween(READ_DEADLINE.minus(SLACK), READ_DEADLINE.plus(SLACK));
      await("the writer sees the connection closed").atMost(SLACK).untilTrue(closed);
    }
  }

  @Test
  void manySlowLorisConnections_doNotDelayANormalNotification() throws Exception {
    List<Socket> lorises = new ArrayList<>();
    try {
      for (int i = 0; i < 100; i++) {
        Socket socket = raw.open(ANSWER_TIMEOUT);
        lorises.add(socket);
        trickleBytes(socket.getOutputStream(), head("PUT", "/fhir/Patient/slow" + i, "X-Slow: " + "z".repeat(500)),
            Duration.ofMillis(100));
      }

      long start = System.nanoTime();
      HapiNotifier.Answer answer = new HapiNotifier(RelayHarness.fhirBase(relay), SECRET).put("Patient", "prompt", 1);

      assertThat(answer.status()).isEqualTo(200);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("acknowledged promptly").isLessThan(Duration.ofSeconds(1));
      assertThat(relay.outbox().oldest("Patient", 1_000)).extracting(p -> p.key().id()).contains("prompt")
          .noneMatch(id -> id.startsWith("slow"));
    } finally {
      for (Socket socket : lorises) {
        socket.close();
      }
    }
  }

  @Test
  void requestsOverTheConcurrencyCap_get503WithRetryAfterAtOnce_andTheCapFreesUpAfterwards() throws Exception {
    List<Socket> stalled = new ArrayList<>();
    try {
      // Each holds a permit: headers complete, body declared and never sent.
      for (int i = 0; i < MAX_CONCURRENT; i++) {
        Socket socket = raw.open(ANSWER_TIMEOUT);
        stalled.add(socket);
        socket.getOutputStream().write(head("PUT", "/fhir/Patient/held" + i, "Content-Length: 500\r\nContent-Type: " + JSON));
        socket.getOutputStream().flush();
      }
      await("all permits held").atMost(Duration.ofSeconds(2)).until(() -> threadsReadingABody().size() == MAX_CONCURRENT);

      RawHttp.Answer busy = raw.exchange(put("/Patient/p1", JSON, HapiNotifier.resource("Patient", "p1", 1)).bytes(), ANSWER_TIMEOUT);

      assertThat(busy.status()).isEqualTo(503);
      assertThat(busy.headers()).containsEntry("retry-after", "1");
      assertThat(busy.body()).contains("\"resourceType\":\"OperationOutcome\"");
      assertThat(busy.elapsed()).as("refused at once, not queued").isLessThan(Duration.ofMillis(500));
      RawHttp.Answer health = raw.exchange(RawRequest.of("GET", "/healthz").bytes(), ANSWER_TIMEOUT);
      assertThat(health.status()).as("probes are never capped").isEqualTo(200);
    } finally {
      for (Socket socket : stalled) {
        socket.close();
      }
    }
    await("the cap frees up once the stalled requests are gone").atMost(READ_DEADLINE.plus(SLACK)).untilAsserted(() ->
        assertThat(new HapiNotifier(RelayHarness.fhirBase(relay), SECRET).put("Patient", "after-cap", 1).status()).isEqualTo(200));
  }

  // ---- helpers ----

  /**
   * No secret, no stack frame, no Java class name (HAPI's own "DataFormatException at [row,col]"
   * is a parse position, not a class), nothing of a local file.
   */
  private static void assertLeaksNothing(RawHttp.Answer answer) {
    assertThat(answer.body())
        .doesNotContain(SECRET)
        .doesNotContain("at org.")
        .doesNotContain("at ca.uhn")
        .doesNotContain("at java.")
        .doesNotContainPattern("[a-z]+\\.[a-z.]+\\.[A-Z]\\w*(Exception|Error)")
        .doesNotContain("root:x:0:0");
  }

  /** Anything the outbox records: each stored change (even one that replaces another), stale drops, pings. */
  private static long recorded() {
    var stats = relay.outbox().stats();
    return relay.outbox().lastSeq() + stats.staleDrops() + stats.pings();
  }

  /** Threads of the in-process relay that are blocked inside a request body read. */
  private static List<String> threadsReadingABody() {
    List<String> readers = new ArrayList<>();
    for (ThreadInfo thread : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
      if (Arrays.stream(thread.getStackTrace()).anyMatch(f -> f.getClassName().contains("BodyLimitFilter"))) {
        readers.add(thread.getThreadName());
      }
    }
    return readers;
  }

  private static byte[] keepAlivePut(String id) {
    String body = HapiNotifier.resource("Patient", id, 1);
    return (new String(head("PUT", "/fhir/Patient/" + id, "Content-Type: " + JSON + "\r\nContent-Length: " + body.length()),
        StandardCharsets.US_ASCII) + body).getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] head(String method, String target, String headers) {
    return (method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + AUTH + "\r\n" + headers + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** Writes {@code piece} again and again until the server closes; the flag says it has. */
  private AtomicBoolean trickle(OutputStream out, byte[] piece, Duration every) {
    return writeInBackground(out, () -> piece, every, Integer.MAX_VALUE);
  }

  /** Writes {@code bytes} one byte at a time; the flag says the server closed before the end. */
  private AtomicBoolean trickleBytes(OutputStream out, byte[] bytes, Duration every) {
    int[] at = {0};
    return writeInBackground(out, () -> new byte[] {bytes[at[0]++]}, every, bytes.length);
  }

  private final ScheduledExecutorService writers = Executors.newScheduledThreadPool(2);

  @AfterEach
  void stopWriting() {
    writers.shutdownNow();
  }

  /** Writes {@code times} pieces, one every {@code every}, until done or the server closes. */
  private AtomicBoolean writeInBackground(OutputStream out, Supplier<byte[]> next, Duration every, int times) {
    AtomicBoolean closed = new AtomicBoolean();
    AtomicInteger written = new AtomicInteger();
    AtomicReference<ScheduledFuture<?>> task = new AtomicReference<>();
    task.set(writers.scheduleAtFixedRate(() -> {
      try {
        if (closed.get() || written.getAndIncrement() >= times) {
          task.get().cancel(false);
          return;
        }
        out.write(next.get());
        out.flush();
      } catch (IOException cutOff) {
        closed.set(true);
      }
    }, 0, every.toMillis(), TimeUnit.MILLISECONDS));
    return closed;
  }

  private static Arguments of(String what, Sendable request, int expected) {
    return Arguments.of(what, request, expected);
  }

  /** Anything that can be sent as raw bytes. */
  interface Sendable {
    byte[] bytes();
  }

  private record RawBytes(byte[] bytes) implements Sendable {
    @Override
    public String toString() {
      return bytes.length + " raw bytes";
    }
  }

  /** A FHIR request with the right secret by default, in the shape the corpus mostly needs. */
  private static final class Fhir implements Sendable {
    private String method;
    private final String path;
    private final String contentType;
    private final byte[] body;
    private final List<String[]> extraHeaders = new ArrayList<>();
    private final List<String> auth = new ArrayList<>();
    private final List<String> rawLines = new ArrayList<>();

    Fhir(String method, String path, String contentType, byte[] body) {
      this.method = method;
      this.path = path;
      this.contentType = contentType;
      this.body = body;
    }

    Fhir method(String method) {
      this.method = method;
      return this;
    }

    Fhir header(String name, String value) {
      extraHeaders.add(new String[] {name, value});
      return this;
    }

    Fhir rawHeaderLine(String line) {
      rawLines.add(line);
      return this;
    }

    /** Replaces the default secret; call twice for two Authorization headers. */
    Fhir auth(String value) {
      auth.add(value);
      return this;
    }

    @Override
    public byte[] bytes() {
      RawRequest request = RawRequest.of(method, "/fhir" + path);
      (auth.isEmpty() ? List.of(AUTH) : auth).forEach(a -> request.header("Authorization", a));
      if (contentType != null) {
        request.header("Content-Type", contentType);
      }
      extraHeaders.forEach(h -> request.header(h[0], h[1]));
      rawLines.forEach(request::rawHeaderLine);
      return request.body(body).bytes();
    }

    @Override
    public String toString() {
      return method + " " + path;
    }
  }

  private static Fhir put(String path, String contentType, String body) {
    return put(path, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  private static Fhir put(String path, String contentType, byte[] body) {
    return new Fhir("PUT", path, contentType, body);
  }

  private static Fhir post(String path, String contentType, String body) {
    return new Fhir("POST", path, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  private static Fhir request(String method, String path) {
    return new Fhir(method, path, null, new byte[0]);
  }

  private static Arguments of(String what, RawRequest request, int expected) {
    return Arguments.of(what, new Sendable() {
      @Override
      public byte[] bytes() {
        return request.bytes();
      }

      @Override
      public String toString() {
        return request.toString();
      }
    }, expected);
  }

  private static Fhir manyHeaders(Fhir request, int count) {
    for (int i = 0; i < count; i++) {
      request.header("X-Header-" + i, "value-" + i);
    }
    return request;
  }

  private static Sendable withoutHost() {
    return new RawBytes(("PUT /fhir/Patient/p1 HTTP/1.1\r\nAuthorization: " + AUTH
        + "\r\nContent-Type: " + JSON + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
  }

  private static String bundle(String entry) {
    return "{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[" + entry + "]}";
  }

  private static byte[] withBytes(String before, byte[] middle, String after) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(before.getBytes(StandardCharsets.UTF_8));
    out.writeBytes(middle);
    out.writeBytes(after.getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  private static String billionLaughs() {
    StringBuilder dtd = new StringBuilder("<?xml version=\"1.0\"?><!DOCTYPE Patient [<!ENTITY l0 \"lol\">");
    for (int i = 1; i <= 9; i++) {
      dtd.append("<!ENTITY l").append(i).append(" \"").append(("&l" + (i - 1) + ";").repeat(10)).append("\">");
    }
    return dtd + "]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p1\"/><gender value=\"&l9;\"/></Patient>";
  }

  private static String chunked(String body) {
    StringBuilder out = new StringBuilder();
    for (int at = 0; at < body.length(); at += 8192) {
      String piece = body.substring(at, Math.min(body.length(), at + 8192));
      out.append(Integer.toHexString(piece.length())).append("\r\n").append(piece).append("\r\n");
    }
    return out.append("0\r\n\r\n").toString();
  }

  /** {@code mebibytes} MiB of spaces, gzipped to about a thousandth of that. */
  private static byte[] gzipBomb(int mebibytes) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    byte[] spaces = new byte[1024 * 1024];
    Arrays.fill(spaces, (byte) ' ');
    try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
      for (int i = 0; i < mebibytes; i++) {
        out.write(spaces);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }

  private static byte[] gzip(String text) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bytes.toByteArray();
  }
}
