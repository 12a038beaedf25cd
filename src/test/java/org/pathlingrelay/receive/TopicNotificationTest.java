package org.pathlingrelay.receive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.provider.HashMapResourceProvider;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.Operation;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.HapiNotifier.Answer;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.SourceSettings;

/**
 * Topic-based notifications (R4 Subscriptions Backport IG), shaped as HAPI sends them: entry 0 a
 * Parameters with the backport status profile, then entries with fullUrl Type/id/_history/n and
 * a request, and no response. Pathling is unreachable, so changes stay pending where we see them.
 */
class TopicNotificationTest {

  private static final FhirContext R4 = FhirContext.forR4();
  private static final HashMapResourceProvider<Observation> observations =
      new HashMapResourceProvider<>(R4, Observation.class);

  @RegisterExtension
  static final RestfulServerExtension source =
      new RestfulServerExtension(R4, observations).withServletPath("/fhir/*").keepAliveBetweenTests();

  @TempDir Path dataDir;
  private Relay relay;
  private HapiNotifier sender;
  private final MovableClock clock = new MovableClock();

  /** The system clock, moved ahead by the test to see what the end of the reorder window brings. */
  private static final class MovableClock implements InstantSource {
    private volatile Duration ahead = Duration.ZERO;

    @Override
    public Instant instant() {
      return Instant.now().plus(ahead);
    }

    void pass(Duration duration) {
      ahead = ahead.plus(duration);
    }
  }

  @BeforeEach
  void start() throws Exception {
    observations.clear();
    relay = Relay.start(
        new RelayConfig(
            RelayHarness.receiver(), dataDir, RelayHarness.forwarding("http://127.0.0.1:1/fhir", ForwardMode.BATCH),
            Optional.of(new CatchUpSettings(new SourceSettings(source.getBaseUrl(), AccessTokens.NONE, 1), null,
                CatchUpSettings.DEFAULT_PING_DEBOUNCE))),
        clock);
    sender = new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
  }

  @AfterEach
  void stop() {
    relay.close();
  }

  private static String status(String type, long eventsSince, String events) {
    return """
        {"fullUrl":"urn:uuid:5f4a6b7c-0000-4000-8000-000000000001",
         "resource":{"resourceType":"Parameters",
          "meta":{"profile":["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
          "parameter":[
           {"name":"subscription","valueReference":{"reference":"http://source/fhir/Subscription/topic-1"}},
           {"name":"topic","valueCanonical":"http://example.org/topic/observations"},
           {"name":"status","valueCode":"active"},
           {"name":"type","valueCode":"%s"},
           {"name":"events-since-subscription-start","valueString":"%d"}%s]}}"""
        .formatted(type, eventsSince, events);
  }

  private static String event(long number, String focus) {
    return """
        ,{"name":"notification-event","part":[
           {"name":"event-number","valueString":"%d"},
           {"name":"timestamp","valueInstant":"2026-11-22"},
           {"name":"focus","valueReference":{"reference":"%s"}}]}""".formatted(number, focus);
  }

  private Answer post(String status, String... entries) {
    String bundle = "{\"resourceType\":\"Bundle\",\"type\":\"history\",\"timestamp\":\"2026-11-22T17:42:04.180+00:00\","
        + "\"entry\":[" + status + (entries.length == 0 ? "" : "," + String.join(",", entries)) + "]}";
    return sender.send(HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay)))
        .header("Authorization", "Bearer " + RelayHarness.SECRET)
        .header("Content-Type", "application/fhir+json")
        .POST(BodyPublishers.ofString(bundle)));
  }

  private List<PendingChange> pending(String type) {
    return relay.outbox().oldest(type, 100);
  }

  private String statusPage() {
    return sender.send(HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay).replace("/fhir", "/status"))).GET()).body();
  }

  @Test
  void fullResource_entriesBecomeUpserts_andDeleteRequestsBecomeDeletes_answeredWithABundle() {
    Answer answer = post(status("event-notification", 2, event(1, "Observation/o1") + event(2, "Observation/o2")),
        """
        {"fullUrl":"http://source/fhir/Observation/o1/_history/3",
         "resource":{"resourceType":"Observation","id":"o1","meta":{"versionId":"3"},"status":"final","code":{"text":"x"}},
         "request":{"method":"PUT","url":"Observation/o1"}}""",
        """
        {"fullUrl":"http://source/fhir/Observation/o2/_history/4","request":{"method":"DELETE","url":"Observation/o2"}}""");

    assertThat(answer.status()).isEqualTo(200);
    assertThat(answer.body()).contains("\"resourceType\":\"Bundle\"");
    assertThat(pending("Observation")).extracting(p -> p.key().id() + ":" + p.operation())
        .containsExactlyInAnyOrder("o1:UPSERT", "o2:DELETE");
  }

  @Test
  void idOnly_entriesAreReadFromTheSource_andOnesGoneThereBecomeDeletes() {
    Observation stored = new Observation();
    stored.setId("o7");
    stored.setStatus(Observation.ObservationStatus.AMENDED);
    stored.getCode().setText("from the source");
    observations.store(stored);

    Answer answer = post(status("event-notification", 2, event(1, "Observation/o7") + event(2, "Observation/gone")),
        "{\"fullUrl\":\"" + source.getBaseUrl() + "/Observation/o7/_history/1\",\"request\":{\"method\":\"PUT\",\"url\":\"Observation/o7\"}}",
        "{\"fullUrl\":\"" + source.getBaseUrl() + "/Observation/gone/_history/2\",\"request\":{\"method\":\"PUT\",\"url\":\"Observation/gone\"}}");

    assertThat(answer.status()).isEqualTo(200);
    assertThat(pending("Observation")).filteredOn(p -> p.key().id().equals("o7")).singleElement()
        .satisfies(p -> assertThat(p.change().body()).contains("from the source"));
    assertThat(pending("Observation")).filteredOn(p -> p.key().id().equals("gone")).singleElement()
        .satisfies(p -> assertThat(p.operation()).isEqualTo(Operation.DELETE));
  }

  @Test
  void empty_notificationsCountAsPings_soThatACatchUpFollows() {
    long pings = relay.outbox().stats().pings();
    assertThat(post(status("event-notification", 1, event(1, "Observation/o1"))).status()).isEqualTo(200);
    assertThat(relay.outbox().stats().pings()).isEqualTo(pings + 1);
    assertThat(relay.outbox().stats().pending()).isZero();
  }

  @Test
  void handshakeAndHeartbeat_areAnswered_andTheirTimeIsRecorded() {
    assertThat(post(status("handshake", 0, "")).status()).isEqualTo(200);
    assertThat(post(status("heartbeat", 0, "")).status()).isEqualTo(200);
    assertThat(statusPage()).contains("\"lastNotification\" : \"heartbeat\"").contains("\"lastSeenAt\"");
    assertThat(relay.outbox().stats().pings()).isZero();
  }

  private static final String ENTRY = "{\"fullUrl\":\"http://s/fhir/Observation/a/_history/1\",\"resource\":{\"resourceType\":\"Observation\","
      + "\"id\":\"a\",\"status\":\"final\",\"code\":{\"text\":\"x\"}},\"request\":{\"method\":\"PUT\",\"url\":\"Observation/a\"}}";

  private void eventNotification(long number) {
    assertThat(post(status("event-notification", number, event(number, "Observation/a")), ENTRY).status()).isEqualTo(200);
  }

  @Test
  void aSkippedEventNumberThatNeverArrives_isAGap_thatTriggersACatchUp_onceTheReorderWindowHasPassed() {
    eventNotification(1);
    eventNotification(3);
    assertThat(relay.outbox().stats().pings()).as("2 may still come: HAPI delivers on several threads").isZero();
    assertThat(statusPage()).contains("\"missedEventGaps\" : 0").contains("\"awaitedEventNumbers\" : 1");

    clock.pass(Outbox.Settings.DEFAULT_EVENT_REORDER_WINDOW);
    await("the hole counts once its window has passed, with no notification to prompt it")
        .atMost(Duration.ofSeconds(10))
        .until(() -> relay.outbox().stats().pings() == 1);
    assertThat(statusPage()).contains("\"missedEventGaps\" : 1").contains("\"awaitedEventNumbers\" : 0");
  }

  @Test
  void eventNumbersOutOfOrder_twoOneThree_areNoGap() throws Exception {
    eventNotification(2);
    eventNotification(1);
    eventNotification(3);
    clock.pass(Outbox.Settings.DEFAULT_EVENT_REORDER_WINDOW.multipliedBy(2));
    Thread.sleep(2_500); // two checks of the window
    assertThat(relay.outbox().stats().pings()).isZero();
    assertThat(statusPage()).contains("\"lastEventNumber\" : 3").contains("\"missedEventGaps\" : 0");
  }

  @Test
  void aCounterReset_triggersACatchUp() {
    post(status("heartbeat", 500, ""));
    post(status("heartbeat", 500, ""));
    assertThat(relay.outbox().stats().pings()).isZero();
    post(status("heartbeat", 1, ""));
    assertThat(relay.outbox().stats().pings()).isEqualTo(1);
  }

  @Test
  void aHeartbeatCountingMoreEventsThanReceived_triggersACatchUp() {
    post(status("heartbeat", 4, ""));
    post(status("heartbeat", 6, ""));
    assertThat(relay.outbox().stats().pings()).isEqualTo(1);
  }

  @Test
  void classicNotifications_keepWorking() {
    assertThat(sender.replay("01-create-put.json").status()).isEqualTo(200);
    assertThat(pending("Patient")).hasSize(1);
  }
}
