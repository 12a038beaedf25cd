package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.Basic;
import org.hl7.fhir.r4.model.CodeType;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.Subscription;
import org.hl7.fhir.r4.model.UriType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.testing.RelayHarness;

/**
 * A topic-based Subscription (R4 Backport IG; the topic as a {@code Basic}) from the repository's
 * backport template, delivered by the real HAPI JPA server as it really sends it.
 */
class TopicFromHapiTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final String R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.";
  private static final String R43 = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.";

  @TempDir Path dataDir;
  private Relay relay;
  private IIdType topic;
  private IIdType subscription;

  @AfterEach
  void tearDown() {
    if (subscription != null) {
      hapi.client().delete().resourceById(subscription).execute();
    }
    if (topic != null) {
      hapi.client().delete().resourceById(topic).execute();
    }
    if (relay != null) {
      relay.close();
    }
  }

  private static Basic topicOn(String type, String url) {
    Basic basic = new Basic();
    basic.getCode().addCoding().setSystem("http://hl7.org/fhir/fhir-types").setCode("SubscriptionTopic");
    basic.addExtension(R5 + "url", new UriType(url));
    basic.addExtension(R5 + "status", new CodeType("active"));
    basic.addExtension(R5 + "title", new StringType(type + " changes"));
    Extension trigger = basic.addExtension().setUrl(R43 + "resourceTrigger");
    trigger.addExtension("resource", new UriType("http://hl7.org/fhir/StructureDefinition/" + type));
    for (String interaction : new String[] {"create", "update", "delete"}) {
      trigger.addExtension("supportedInteraction", new CodeType(interaction));
    }
    return basic;
  }

  @Test
  void fullResourceTopicSubscription_createAndUpdate_reachPathling() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    String topicUrl = "http://example.org/topics/" + UUID.randomUUID();
    topic = hapi.client().create().resource(topicOn("Patient", topicUrl)).execute().getId().toUnqualifiedVersionless();
    String template = Files.readString(Path.of("subscriptions", "backport", "full-resource.json"))
        .replace("${TOPIC_URL}", topicUrl)
        .replace("${TYPE}", "Patient")
        .replace("${RELAY_URL}", RelayHarness.fhirBase(relay))
        .replace("${RELAY_SECRET}", RelayHarness.SECRET);
    Subscription backport = hapi.fhirContext().newJsonParser().parseResource(Subscription.class, template);
    subscription = hapi.client().create().resource(backport).execute().getId().toUnqualifiedVersionless();
    hapiWrites.awaitActive(subscription);

    String id = hapiWrites.id("topic", 1);
    hapi.client().update().resource(HapiWorkload.patient(id, 0)).execute();
    hapi.client().update().resource(HapiWorkload.patient(id, 1)).execute();

    await("topic notification reached Pathling").atMost(Duration.ofSeconds(60))
        .until(() -> pathling.current("Patient", id)
            .map(p -> "2".equals(p.getMeta().getVersionId())).orElse(false));
    assertThat(pathling.duplicateIds()).isEmpty();
  }
}
