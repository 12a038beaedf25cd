package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.jpa.topic.R4SubscriptionTopicBuilder;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.Enumerations.PublicationStatus;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.outbox.SubscriptionState;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.SourceSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Topic-based subscriptions (R4 Subscriptions Backport IG) against a real HAPI FHIR JPA 8.8.0:
 * the topic is a {@code Basic} (code {@code fhir-types|SubscriptionTopic}) as HAPI's R4 topic
 * loader reads it, the Subscription comes from the repository's {@code backport/} template with
 * each payload content, and HAPI's own threads deliver what a Patient's create, update and delete
 * cause to the relay, and the relay on to the fake Pathling.
 */
class HapiTopicSubscriptionTest {

  private static final Logger log = LoggerFactory.getLogger(HapiTopicSubscriptionTest.class);

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private final List<IIdType> created = new ArrayList<>();
  private final List<IBaseResource> sent = new CopyOnWriteArrayList<>();
  private AutoCloseable recording;
  private final String run = UUID.randomUUID().toString().substring(0, 8);

  @BeforeEach
  void start() throws Exception {
    // A source, so that id-only notifications can be read back; no schedule, no catch-up runs.
    relay = RelayHarness.start(new RelayConfig(
        RelayHarness.receiver(), dataDir, RelayHarness.forwarding(pathling.baseUrl(), ForwardMode.BATCH),
        Optional.of(new CatchUpSettings(new SourceSettings(hapi.baseUrl(), AccessTokens.NONE, 1), null,
            CatchUpSettings.DEFAULT_PING_DEBOUNCE))));
    recording = hapi.onRestHookDelivery(sent::add);
  }

  @AfterEach
  void stop() throws Exception {
    recording.close();
    for (int i = created.size() - 1; i >= 0; i--) {
      client().delete().resourceById(created.get(i)).execute(); // the server outlives this class
    }
    relay.close();
  }

  @Test
  void fullResource_hapiSendsEachVersion_pathlingHoldsTheLatestThenTheDelete() throws Exception {
    Written patient = subscribeAndCreateAndUpdate("full-resource");
    List<Bundle> bundles = awaitNotifications(patient.subscription(), 2);
    assertThat(bundles).allSatisfy(bundle -> {
      assertThat(bundle.getEntry()).as("the status and the Patient").hasSize(2);
      assertThat(bundle.getEntry().get(1).getResource()).as("full-resource carries it").isInstanceOf(Patient.class);
    });
    assertThat(bundles).extracting(bundle -> bundle.getEntry().get(1).getRequest().getMethod())
        .as("HAPI delivers on more than one thread: any order")
        .containsExactlyInAnyOrder(HTTPVerb.POST, HTTPVerb.PUT);
    awaitPathlingVersion(patient.id(), "2");

    deleteAndAwaitPathlingForgets(patient);
    assertThat(awaitNotifications(patient.subscription(), 3))
        .anySatisfy(bundle -> assertThat(bundle.getEntry().get(1).getRequest().getMethod()).isEqualTo(HTTPVerb.DELETE));
    assertTracked(patient.subscription());
  }

  @Test
  void idOnly_hapiNamesTheResource_relayReadsItFromHapi() throws Exception {
    Written patient = subscribeAndCreateAndUpdate("id-only");
    List<Bundle> bundles = awaitNotifications(patient.subscription(), 2);
    assertThat(bundles).allSatisfy(bundle -> {
      assertThat(bundle.getEntry()).as("the status and the Patient's id").hasSize(2);
      BundleEntryComponent entry = bundle.getEntry().get(1);
      assertThat(entry.hasResource()).as("id-only carries no resource").isFalse();
      assertThat(new IdType(entry.getFullUrl()).toUnqualifiedVersionless().getValue())
          .isEqualTo("Patient/" + patient.id());
    });
    awaitPathlingVersion(patient.id(), "2");

    deleteAndAwaitPathlingForgets(patient);
    assertThat(awaitNotifications(patient.subscription(), 3))
        .anySatisfy(bundle -> assertThat(bundle.getEntry().get(1).getRequest().getMethod()).isEqualTo(HTTPVerb.DELETE));
    assertTracked(patient.subscription());
  }

  @Test
  void empty_hapiSaysOnlyThatSomethingChanged_relayCountsAPingPerNotification() throws Exception {
    long pingsBefore = relay.outbox().stats().pings();
    Written patient = subscribeAndCreateAndUpdate("empty");
    List<Bundle> bundles = awaitNotifications(patient.subscription(), 2);
    assertThat(bundles).allSatisfy(bundle ->
        assertThat(bundle.getEntry()).as("only the status").hasSize(1));
    await("a ping per empty notification")
        .atMost(Duration.ofSeconds(30))
        .until(() -> relay.outbox().stats().pings() - pingsBefore >= 2);
    assertThat(pathling.current("Patient", patient.id())).as("nothing to forward but a catch-up").isEmpty();
    assertTracked(patient.subscription());
  }

  /** A Patient written in HAPI, and the topic Subscription that should have seen it. */
  private record Written(String id, IIdType subscription) {}

  /**
   * Creates the topic and the Subscription with {@code content}, waits until HAPI uses both, then
   * creates and updates one Patient (versions 1 and 2).
   */
  private Written subscribeAndCreateAndUpdate(String content) throws IOException {
    String topicUrl = "http://pathling-relay.test/topic/patient-" + run;
    createTopic(topicUrl);
    // HAPI reloads its topics once a minute (48-58 s here): writes before that match nothing.
    await("HAPI loads topic " + topicUrl)
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> {
          hapi.refreshTopics();
          return hapi.topicRegistered(topicUrl);
        });
    IIdType subscription = createSubscription(topicUrl, content);
    new HapiWorkload(hapi).awaitActive(subscription);

    String id = run + "-" + content;
    client().update().resource(HapiWorkload.patient(id, 1)).execute();
    client().update().resource(HapiWorkload.patient(id, 2)).execute();
    return new Written(id, subscription);
  }

  private void deleteAndAwaitPathlingForgets(Written patient) {
    client().delete().resourceById("Patient", patient.id()).execute();
    await("Pathling forgets Patient/" + patient.id())
        .atMost(Duration.ofSeconds(30))
        .until(() -> pathling.current("Patient", patient.id()).isEmpty());
  }

  private static void awaitPathlingVersion(String id, String version) {
    await("Pathling holds Patient/" + id + " version " + version)
        .atMost(Duration.ofSeconds(30))
        .until(() -> pathling.current("Patient", id).map(r -> r.getMeta().getVersionId()).orElse(""),
            version::equals);
  }

  /** HAPI's topic notifications for {@code subscription}, as HAPI built them, in the order sent. */
  private List<Bundle> awaitNotifications(IIdType subscription, int count) {
    List<Bundle> mine = new ArrayList<>();
    await("HAPI sends " + count + " notification(s) for " + subscription.getIdPart())
        .atMost(Duration.ofSeconds(30))
        .until(() -> {
          mine.clear();
          for (IBaseResource payload : sent) {
            if (payload instanceof Bundle bundle && isFor(bundle, subscription)) {
              mine.add(bundle);
            }
          }
          return mine.size() >= count;
        });
    mine.forEach(bundle -> log.debug("HAPI sent: {}", hapi.fhirContext().newJsonParser().encodeResourceToString(bundle)));
    assertThat(mine).allSatisfy(bundle -> assertThat(bundle.getType()).isEqualTo(BundleType.HISTORY));
    return mine;
  }

  private static boolean isFor(Bundle bundle, IIdType subscription) {
    return !bundle.getEntry().isEmpty()
        && bundle.getEntryFirstRep().getResource() instanceof Parameters status
        && status.getParameter("subscription") != null
        && status.getParameter("subscription").getValue() instanceof Reference reference
        && subscription.getIdPart().equals(new IdType(reference.getReference()).getIdPart());
  }

  /**
   * The relay tracks the subscription by HAPI's event numbers. HAPI numbers events in order but
   * delivers them on several threads, so they may arrive as 2, 1, 3: nothing was lost, so a normal
   * run shows no gap and, once every notification has arrived, no number still awaited.
   */
  private void assertTracked(IIdType subscription) {
    // HAPI reports a delivery before making it: the last one may still be on its way.
    await("every event number of " + subscription.getIdPart() + " arrived")
        .atMost(Duration.ofSeconds(30))
        .until(() -> tracked(subscription).awaitedEvents() == 0);
    SubscriptionState state = tracked(subscription);
    assertThat(state.lastType()).isEqualTo("event-notification");
    assertThat(state.lastEventNumber()).isPositive();
    assertThat(state.gaps()).as("missed event gaps").isZero();
  }

  private SubscriptionState tracked(IIdType subscription) {
    return relay.outbox().subscriptions().stream()
        .filter(state -> state.subscription().equals("Subscription/" + subscription.getIdPart()))
        .findFirst().orElseThrow();
  }

  private void createTopic(String url) {
    IIdType id = client().create().resource(new R4SubscriptionTopicBuilder()
            .setUrl(url)
            .setStatus(PublicationStatus.ACTIVE)
            .addResourceTrigger()
            .setResourceTriggerResource("Patient")
            .addResourceTriggerSupportedInteraction("create")
            .addResourceTriggerSupportedInteraction("update")
            .addResourceTriggerSupportedInteraction("delete")
            .build())
        .execute().getId().toUnqualifiedVersionless();
    created.add(id);
  }

  private IIdType createSubscription(String topicUrl, String content) throws IOException {
    String template = Files.readString(Path.of("subscriptions", "backport", "full-resource.json"))
        .replace("${TOPIC_URL}", topicUrl)
        .replace("${TYPE}", "Patient")
        .replace("${RELAY_URL}", RelayHarness.fhirBase(relay))
        .replace("${RELAY_SECRET}", RelayHarness.SECRET)
        .replace("\"valueCode\": \"full-resource\"", "\"valueCode\": \"" + content + "\"");
    Subscription subscription = hapi.fhirContext().newJsonParser().parseResource(Subscription.class, template);
    IIdType id = client().create().resource(subscription).execute().getId().toUnqualifiedVersionless();
    created.add(id);
    return id;
  }

  private static IGenericClient client() {
    return hapi.client();
  }
}
