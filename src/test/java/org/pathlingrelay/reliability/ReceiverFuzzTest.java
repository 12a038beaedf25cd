package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.context.FhirContext;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.testing.RawHttp;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ReceiverSettings;

/**
 * Coverage-guided fuzzing (Jazzer) of the receiver, through real HTTP to one relay per class.
 *
 * <p>An input is {@code METHOD path\ncontent-type\nbody}, readable and editable by hand; the seeds
 * in {@code src/test/resources/org/pathlingrelay/reliability/ReceiverFuzzTestInputs/} are HAPI
 * 8.8.0 wire captures and known-bad requests. Every request carries the right secret, so the
 * fuzzer reaches parsing. For any input: the answer comes within 20 s, is not a 5xx, leaks no
 * secret or stack trace; a refusal stores nothing; an acknowledged PUT or DELETE stores exactly
 * the resource its URL names.
 *
 * <p>{@code mvn verify} replays the seeds only. To fuzz: {@code JAZZER_FUZZ=1 mvn test
 * -Dtest=ReceiverFuzzTest}; new corpus entries go to {@code .cifuzz-corpus/}, and a failing input
 * is written next to the seeds, where it stays as a regression case.
 */
class ReceiverFuzzTest {

  private static final String SECRET = RelayHarness.SECRET;
  /** Generous: an instrumented JVM on a busy machine is slow, and a hang is still caught. */
  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(20);
  private static final FhirContext FHIR = FhirContext.forR4();

  @TempDir static Path dataDir;
  private static Relay relay;
  private static RawHttp raw;

  @BeforeAll
  static void start() throws Exception {
    RelayConfig defaults = RelayHarness.config(dataDir, "http://127.0.0.1:1/fhir", ForwardMode.BATCH);
    ReceiverSettings receiver = defaults.receiver();
    RelayConfig config = new RelayConfig(
        new ReceiverSettings(receiver.bind(), 0, receiver.secrets(), false, 256 * 1024,
            new HttpLimits(16 * 1024, Duration.ofSeconds(10), Duration.ofSeconds(10), 64), Optional.empty()),
        dataDir, defaults.forwarding());
    relay = RelayHarness.start(config);
    raw = new RawHttp("127.0.0.1", relay.port());
  }

  @AfterAll
  static void stop() {
    relay.close();
  }

  @FuzzTest(maxDuration = "4m")
  void anyRequest_isAnsweredWithout5xx_andStoresOnlyWhatItsUrlNames(byte[] input) throws IOException {
    FuzzedRequest request = FuzzedRequest.parse(input);
    long recordedBefore = recorded();

    RawHttp.Answer answer = raw.exchange(request.bytes(SECRET), ANSWER_TIMEOUT);

    assertThat(answer.status()).as("answered after %s, and not with a 5xx: %s", answer.elapsed(), answer.body())
        .isBetween(100, 499);
    assertThat(answer.body()).doesNotContain(SECRET).doesNotContain("\tat ").doesNotContain("at org.")
        .doesNotContain("at ca.uhn");
    if (answer.status() >= 400) {
      assertThat(recorded()).as("a refusal stores nothing").isEqualTo(recordedBefore);
    } else {
      request.named().ifPresent(named -> assertStoredAsNamed(request.method(), named));
    }
  }

  /** Anything the outbox records: appended changes, stale drops and pings. */
  private static long recorded() {
    var stats = relay.outbox().stats();
    return relay.outbox().lastSeq() + stats.staleDrops() + stats.pings();
  }

  /**
   * An acknowledged PUT/DELETE of {@code Type/id} left exactly one pending change for that
   * resource (Pathling is unreachable, so nothing leaves), holding a resource of that type and id.
   */
  private static void assertStoredAsNamed(String method, String[] named) {
    List<PendingChange> rows = relay.outbox().oldest(named[0], 100_000).stream()
        .filter(p -> p.key().id().equals(named[1]))
        .toList();
    assertThat(rows).as("an acknowledged %s %s/%s is pending", method, named[0], named[1]).hasSize(1);
    PendingChange row = rows.get(0);
    if (row.operation() == Operation.DELETE) {
      return;
    }
    IBaseResource stored = FHIR.newJsonParser().parseResource(row.change().body());
    assertThat(FHIR.getResourceType(stored)).isEqualTo(named[0]);
    assertThat(stored.getIdElement().getIdPart()).isEqualTo(named[1]);
  }

  /** {@code METHOD path}, a content type and a body, from the fuzzer's bytes. */
  private record FuzzedRequest(String method, String path, String contentType, byte[] body) {

    static FuzzedRequest parse(byte[] input) {
      int first = indexOf(input, 0);
      int second = first < 0 ? -1 : indexOf(input, first + 1);
      String requestLine = latin1(input, 0, first < 0 ? input.length : first);
      String[] parts = requestLine.split(" ", 2);
      String method = parts.length == 2 && !parts[0].isEmpty() ? parts[0] : "PUT";
      String path = parts.length == 2 ? parts[1] : "/Patient/p1";
      String contentType = first < 0 ? "application/fhir+json" : latin1(input, first + 1, second < 0 ? input.length : second);
      byte[] body = second < 0 ? new byte[0] : Arrays.copyOfRange(input, second + 1, input.length);
      return new FuzzedRequest(method, path, contentType, body);
    }

    /** Type and id, when the path is a plain {@code /Type/id} for a PUT or DELETE. */
    Optional<String[]> named() {
      if (!(method.equals("PUT") || method.equals("DELETE")) || !path.matches("/[A-Za-z]+/[^/?#%;\\s]+")) {
        return Optional.empty();
      }
      return Optional.of(path.substring(1).split("/"));
    }

    byte[] bytes(String secret) {
      String head = method + " /fhir" + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + secret
          + "\r\nContent-Type: " + contentType + "\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
      byte[] headBytes = head.getBytes(StandardCharsets.ISO_8859_1);
      byte[] all = Arrays.copyOf(headBytes, headBytes.length + body.length);
      System.arraycopy(body, 0, all, headBytes.length, body.length);
      return all;
    }

    private static int indexOf(byte[] input, int from) {
      for (int i = from; i < input.length; i++) {
        if (input[i] == '\n') {
          return i;
        }
      }
      return -1;
    }

    private static String latin1(byte[] input, int from, int to) {
      return new String(input, from, to - from, StandardCharsets.ISO_8859_1).replace("\r", "");
    }
  }
}
