package org.pathlingrelay.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.provider.HashMapResourceProvider;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.hl7.fhir.r4.model.Observation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.SourceSettings;

/**
 * The source down, or silent, when an {@code id-only} topic notification makes the relay read the
 * named resource from it: the sender gets 503 with Retry-After and nothing is stored, not even the
 * event number (so the retry is not taken for a repeat); when the source answers again, the retried
 * notification is stored and forwarded. Source outages during a backfill are in {@code BackfillTest}.
 */
class SourceOutageTest {

  /** The source: a plain HAPI server that can be stopped and started on the same port. */
  static final class Source extends RestfulServerExtension {
    Source(FhirContext context, Object provider) {
      super(context, provider);
    }

    void comeBack() throws Exception {
      startServer();
    }
  }

  private static final FhirContext R4 = FhirContext.forR4();
  private static final HashMapResourceProvider<Observation> observations =
      new HashMapResourceProvider<>(R4, Observation.class);

  @RegisterExtension
  static final Source source = (Source) new Source(R4, observations).withServletPath("/fhir/*").keepAliveBetweenTests();

  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private HangingProxy proxy;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void seedTheSource() {
    observations.clear();
    Observation stored = new Observation();
    stored.setId("o1");
    stored.setStatus(Observation.ObservationStatus.FINAL);
    stored.getCode().setText("read from the source");
    observations.store(stored);
  }

  @AfterEach
  void stop() throws Exception {
    if (relay != null) {
      relay.close();
    }
    if (proxy != null) {
      proxy.close();
    }
  }

  private void startRelay(String sourceUrl) throws Exception {
    relay = Relay.start(
        new RelayConfig(
            RelayHarness.receiver(), dataDir, RelayHarness.forwarding(pathling.baseUrl(), ForwardMode.BATCH),
            Optional.of(new CatchUpSettings(new SourceSettings(sourceUrl, AccessTokens.NONE, 1), null,
                CatchUpSettings.DEFAULT_PING_DEBOUNCE))),
        Clock.systemUTC());
  }

  /** An id-only event notification naming Observation/o1, as a backport IG source sends it. */
  private HttpResponse<String> notifyIdOnly() throws Exception {
    String bundle = """
        {"resourceType":"Bundle","type":"history","entry":[
          {"fullUrl":"urn:uuid:5f4a6b7c-0000-4000-8000-000000000001",
           "resource":{"resourceType":"Parameters",
            "meta":{"profile":["http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4"]},
            "parameter":[
             {"name":"subscription","valueReference":{"reference":"http://source/fhir/Subscription/topic-1"}},
             {"name":"topic","valueCanonical":"http://example.org/topic/observations"},
             {"name":"status","valueCode":"active"},
             {"name":"type","valueCode":"event-notification"},
             {"name":"events-since-subscription-start","valueString":"1"},
             {"name":"notification-event","part":[
               {"name":"event-number","valueString":"1"},
               {"name":"focus","valueReference":{"reference":"Observation/o1"}}]}]}},
          {"fullUrl":"%s/Observation/o1/_history/1","request":{"method":"PUT","url":"Observation/o1"}}]}"""
        .formatted(source.getBaseUrl());
    return http.send(HttpRequest.newBuilder(URI.create(RelayHarness.fhirBase(relay)))
            .header("Authorization", "Bearer " + RelayHarness.SECRET)
            .header("Content-Type", "application/fhir+json")
            .timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofString(bundle)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private String statusPage() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + relay.port() + "/status")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private void assertRefusedAndNothingStored(HttpResponse<String> answer) throws Exception {
    assertThat(answer.statusCode()).isEqualTo(503);
    assertThat(answer.headers().firstValue("Retry-After")).isPresent();
    assertThat(answer.body().replace(" ", "")).contains("\"resourceType\":\"OperationOutcome\"");
    assertThat(relay.outbox().stats().pending()).as("changes stored").isZero();
    assertThat(statusPage()).as("the event number is not recorded either").doesNotContain("topicSubscriptions");
  }

  private void assertTheRetryIsStoredAndForwarded() throws Exception {
    assertThat(notifyIdOnly().statusCode()).isEqualTo(200);
    await("forwarded").atMost(Duration.ofSeconds(20))
        .until(() -> pathling.current("Observation", "o1").isPresent());
    assertThat(((Observation) pathling.current("Observation", "o1").orElseThrow()).getCode().getText())
        .isEqualTo("read from the source");
    assertThat(statusPage()).contains("\"lastEventNumber\" : 1").contains("\"missedEventGaps\" : 0");
  }

  @Test
  void sourceDown_idOnlyNotificationIsRefusedWith503_andTheRetryIsStoredOnceItIsBack() throws Exception {
    startRelay(source.getBaseUrl());
    source.stopServer();
    try {
      assertRefusedAndNothingStored(notifyIdOnly());
    } finally {
      source.comeBack();
    }
    assertTheRetryIsStoredAndForwarded();
  }

  @Test
  void sourceSilent_idOnlyNotificationIsRefusedBeforeTheSenderGivesUp_andTheRetryIsStored() throws Exception {
    proxy = new HangingProxy(source.getPort());
    startRelay(proxy.baseUrl());
    proxy.hang();
    long start = System.nanoTime();
    HttpResponse<String> answer = notifyIdOnly();
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    System.out.printf("silent source: answered %d after %d ms; reads that met the silence: %s%n",
        answer.statusCode(), took.toMillis(),
        proxy.hungConnections().stream().map(h -> h.waited().toMillis() + " ms").toList());
    assertThat(took).as("answered before HAPI's 10 s rest-hook timeout").isLessThan(Duration.ofSeconds(10));
    assertRefusedAndNothingStored(answer);
    proxy.pass();
    assertTheRetryIsStoredAndForwarded();
  }
}
