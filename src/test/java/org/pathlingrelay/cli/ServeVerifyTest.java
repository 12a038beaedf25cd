package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Contract;
import org.hl7.fhir.r4.model.EnrollmentRequest;
import org.hl7.fhir.r4.model.Invoice;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.Schedule;
import org.hl7.fhir.r4.model.Slot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.verify.ScheduledVerify;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.SourceSettings;
import org.pathlingrelay.wiring.VerifySettings;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * {@code serve --verify-interval / --verify-full-interval}: a real HAPI JPA as the source, the fake
 * Pathling, a real relay (Jetty, SQLite) checking them every few hundred milliseconds. Each test
 * uses types no other test writes to HAPI (it is shared by the whole run).
 */
class ServeVerifyTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern GAUGE =
      Pattern.compile("(?m)^relay_verify_differences\\{([^}]*)\\} (\\S+)$");
  private static final Pattern LABEL = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  @TempDir Path dataDir;
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final ListAppender<ILoggingEvent> verifyLog = new ListAppender<>();
  private Relay relay;

  @BeforeEach
  void listen() {
    verifyLog.start();
    ((Logger) LoggerFactory.getLogger(ScheduledVerify.class)).addAppender(verifyLog);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(ScheduledVerify.class)).detachAppender(verifyLog);
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  void plantedDifferences_showOnStatusAndMetrics_loggedOnce_andReadZeroOnceMended() throws Exception {
    // Invoice: one of each difference. Source inv-1, inv-2 (v2), inv-3; Pathling inv-1 twice,
    // inv-2 at v1, inv-extra.
    Invoice first = write(new Invoice().setStatus(Invoice.InvoiceStatus.ISSUED), "inv-1");
    Invoice older = write(new Invoice().setStatus(Invoice.InvoiceStatus.DRAFT), "inv-2");
    write(new Invoice().setStatus(Invoice.InvoiceStatus.ISSUED), "inv-3");
    pathling.seed(first, first, older,
        new Invoice().setStatus(Invoice.InvoiceStatus.CANCELLED).setId(id("inv-extra")));
    write(new Invoice().setStatus(Invoice.InvoiceStatus.ISSUED), "inv-2");
    // Slot: nothing of it in Pathling. Contract: nothing of it in the source.
    write(new Slot().setStatus(Slot.SlotStatus.FREE), "slot-1");
    write(new Slot().setStatus(Slot.SlotStatus.BUSY), "slot-2");
    pathling.seed(new Contract().setStatus(Contract.ContractStatus.OFFERED).setId(id("con-1")));
    // EnrollmentRequest: equal on both sides.
    pathling.seed(write(new EnrollmentRequest().setStatus(EnrollmentRequest.EnrollmentRequestStatus.ACTIVE), "enr-1"));

    startRelay(new VerifySettings(Duration.ofMillis(200), Duration.ofMillis(500),
        List.of("Invoice", "Slot", "Contract", "EnrollmentRequest")));

    Map<String, Map<String, Long>> expected = new TreeMap<>(Map.of(
        "Invoice", kinds(1, 1, 1, 1, 1),
        "Slot", kinds(2, 2, 0, 0, 0),
        "Contract", kinds(1, 0, 0, 1, 0),
        "EnrollmentRequest", kinds(0, 0, 0, 0, 0)));
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(gauges()).isEqualTo(expected));
    JsonNode verify = status().get("verify");
    assertThat(verify.get("typesSettled").asInt()).isEqualTo(4);
    assertThat(verify.get("countsEvery").asText()).isEqualTo("PT0.2S");
    assertThat(verify.get("fullEvery").asText()).isEqualTo("PT0.5S");
    assertThat(verify.get("unsettled")).isEmpty();
    JsonNode differences = verify.get("differences");
    assertThat(names(differences)).containsExactly("Contract", "Invoice", "Slot");
    assertNumbers(differences.get("Invoice"), 3, 4, kinds(1, 1, 1, 1, 1));
    assertNumbers(differences.get("Slot"), 2, 0, kinds(2, 2, 0, 0, 0));
    assertNumbers(differences.get("Contract"), 0, 1, kinds(1, 0, 0, 1, 0));

    // Several more checks of each kind: still one line per differing type, none for the equal one.
    awaitFullChecks(3);
    assertThat(lines("differs from the source")).hasSize(3).anySatisfy(line -> assertThat(line)
            .startsWith("Verify: Invoice differs from the source: count 1, missing 1, stale 1, extra 1, duplicated 1"
                + " (source 3, Pathling 4)")
            .contains(" verify --repair ").contains("--data-dir " + dataDir).endsWith(" --type Invoice"))
        .anySatisfy(line -> assertThat(line).startsWith("Verify: Slot differs from the source: count 2, missing 2 ("))
        .anySatisfy(line -> assertThat(line).startsWith("Verify: Contract differs from the source: count 1, extra 1 ("))
        .noneSatisfy(line -> assertThat(line).contains("EnrollmentRequest"));
    assertThat(pathling.writes()).as("the checks repair nothing by themselves").isEmpty();

    // Mended as the README says: the duplicate deleted in Pathling, then verify --repair beside serve.
    pathling.newClient().delete().resourceById("Invoice", id("inv-1")).execute();
    String out = repair("Invoice,Slot,Contract");
    assertThat(out).contains("Pathling holds what the source holds.");

    Map<String, Map<String, Long>> zero = new TreeMap<>(Map.of(
        "Invoice", kinds(0, 0, 0, 0, 0), "Slot", kinds(0, 0, 0, 0, 0), "Contract", kinds(0, 0, 0, 0, 0),
        "EnrollmentRequest", kinds(0, 0, 0, 0, 0)));
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(gauges()).isEqualTo(zero));
    awaitFullChecks(3);
    assertThat(status().at("/verify/differences")).isEmpty();
    assertThat(lines("is equal again")).hasSize(3)
        .anySatisfy(line -> assertThat(line).startsWith("Verify: Invoice is equal again"))
        .anySatisfy(line -> assertThat(line).startsWith("Verify: Slot is equal again"))
        .anySatisfy(line -> assertThat(line).startsWith("Verify: Contract is equal again"));
  }

  @Test
  void aTypeWithChangesPending_isNotJudged_untilTheyAreDelivered() throws Exception {
    Schedule kept = write(new Schedule().setActive(true), "sch-1");
    pathling.seed(kept);
    Schedule added = write(new Schedule().setActive(true), "sch-2");
    // The relay's write of sch-2 takes seconds: meanwhile the source holds 2, Pathling 1.
    pathling.setWriteDelay(Duration.ofSeconds(3), Duration.ZERO);
    startRelay(new VerifySettings(Duration.ofMillis(200), null, List.of()));

    HapiNotifier notifier = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    assertThat(notifier.put("Schedule", id("sch-2"), 1, json(added)).acknowledged()).isTrue();

    await().atMost(Duration.ofSeconds(10)).until(() -> names(status().at("/verify/unsettled")).contains("Schedule"));
    String seen = status().at("/verify/lastCountCheck").asText();
    await().atMost(Duration.ofSeconds(10)).until(() -> !status().at("/verify/lastCountCheck").asText().equals(seen));
    JsonNode verify = status().get("verify");
    assertThat(verify.get("differences")).as("pending, so not judged").isEmpty();
    assertThat(names(verify.get("unsettled"))).containsExactly("Schedule");
    assertThat(verify.get("lastOutcome").asText()).contains("1 not judged (changes pending)");
    assertThat(gauges()).doesNotContainKey("Schedule");

    // Delivered: the type is judged, and found equal.
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
        assertThat(gauges()).containsEntry("Schedule", Map.of("count", 0L)));
    assertThat(status().at("/verify/unsettled")).isEmpty();
    assertThat(pathling.ids("Schedule")).containsExactlyInAnyOrder(id("sch-1"), id("sch-2"));
    assertThat(lines("Schedule")).as("never reported as differing").isEmpty();
  }

  private void startRelay(VerifySettings verify) throws Exception {
    relay = Relay.start(
        new RelayConfig(
            RelayHarness.receiver(), dataDir, RelayHarness.forwarding(pathling.baseUrl(), ForwardMode.BATCH),
            Optional.of(new CatchUpSettings(new SourceSettings(hapi.baseUrl(), AccessTokens.NONE, 1), null,
                CatchUpSettings.DEFAULT_PING_DEBOUNCE)),
            Optional.of(verify)),
        Clock.systemUTC());
  }

  /** {@code verify --repair} beside the running serve: it queues, serve forwards. */
  private String repair(String types) throws IOException {
    String[] argv = {"verify", "--repair", "--type", types, "--source-url", hapi.baseUrl(),
        "--pathling-url", pathling.baseUrl(), "--data-dir", dataDir.toString()};
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(argv, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    int exit = commandLine.execute(argv);
    assertThat(exit).as(out.toString()).isZero();
    return out.toString();
  }

  /** Waits until {@code runs} more full checks have ended. */
  private void awaitFullChecks(int runs) throws Exception {
    for (int n = 0; n < runs; n++) {
      String last = status().at("/verify/lastFullCheck").asText();
      await().atMost(Duration.ofSeconds(30)).until(() -> !status().at("/verify/lastFullCheck").asText().equals(last));
    }
  }

  private JsonNode status() throws Exception {
    return JSON.readTree(get("/status"));
  }

  private String get(String path) {
    HapiNotifier http = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
    String url = RelayHarness.fhirBase(relay).replace("/fhir", path);
    return http.send(HttpRequest.newBuilder(URI.create(url)).GET()).body();
  }

  /** The {@code relay_verify_differences} gauges of {@code /metrics}: type, kind, value. */
  private Map<String, Map<String, Long>> gauges() {
    Map<String, Map<String, Long>> gauges = new TreeMap<>();
    Matcher gauge = GAUGE.matcher(get("/metrics"));
    while (gauge.find()) {
      Map<String, String> labels = new TreeMap<>();
      Matcher label = LABEL.matcher(gauge.group(1));
      while (label.find()) {
        labels.put(label.group(1), label.group(2));
      }
      double value = Double.parseDouble(gauge.group(2)); // NaN would fail the comparison below
      assertThat(value).as(gauge.group()).isNotNaN().isEqualTo(Math.rint(value));
      gauges.computeIfAbsent(labels.get("type"), t -> new TreeMap<>()).put(labels.get("kind"), (long) value);
    }
    return gauges;
  }

  private static Map<String, Long> kinds(long count, long missing, long stale, long extra, long duplicated) {
    return new TreeMap<>(Map.of("count", count, "missing", missing, "stale", stale, "extra", extra,
        "duplicated", duplicated));
  }

  private static void assertNumbers(JsonNode type, long source, long pathlingCount, Map<String, Long> kinds) {
    assertThat(type.get("source").asLong()).as(type.toString()).isEqualTo(source);
    assertThat(type.get("pathling").asLong()).as(type.toString()).isEqualTo(pathlingCount);
    kinds.forEach((kind, value) -> assertThat(type.get(kind).asLong()).as(kind + " in " + type).isEqualTo(value));
  }

  private static List<String> names(JsonNode node) {
    List<String> names = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(item -> names.add(item.asText()));
    } else {
      node.fieldNames().forEachRemaining(names::add);
    }
    return names;
  }

  private List<String> lines(String containing) {
    return verifyLog.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(line -> line.contains(containing)).toList();
  }

  private String id(String label) {
    return run + "-" + label;
  }

  private static String json(IBaseResource resource) {
    return FhirContext.forR4Cached().newJsonParser().encodeResourceToString(resource);
  }

  /** PUTs the resource to HAPI under the run's id; answers HAPI's copy (meta included). */
  @SuppressWarnings("unchecked")
  private <T extends Resource> T write(T resource, String label) {
    resource.setId(id(label));
    IGenericClient client = hapi.client();
    client.update().resource(resource).execute();
    return (T) client.read().resource(resource.fhirType()).withId(id(label)).execute();
  }
}
