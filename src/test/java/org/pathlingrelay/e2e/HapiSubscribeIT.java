package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Subscription;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.HapiJpaServer;

/**
 * {@code subscribe} and {@code unsubscribe} as an operator runs them: the packaged jar, from a
 * working directory without {@code subscriptions/}, against a real HAPI FHIR JPA server (which
 * answers a search repeated within 60 s from its cache).
 */
class HapiSubscribeIT {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();

  private static final String SECRET = "hapi-subscribe-secret";
  private static final String RELAY_URL = "http://127.0.0.1:9/fhir"; // never called: HAPI R4 does no handshake

  @TempDir Path workDir;
  private String foreignId;

  private record Run(int exitCode, String out) {}

  private Run relay(String... args) throws IOException, InterruptedException {
    Path jar = Path.of("target", "pathling-relay.jar").toAbsolutePath();
    assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
    assertThat(workDir.resolve("subscriptions")).doesNotExist();
    List<String> command = new java.util.ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString()));
    command.addAll(List.of(args));
    Path log = Files.createTempFile(workDir, "run", ".log");
    Process process = new ProcessBuilder(command)
        .directory(workDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .start();
    assertThat(process.waitFor(3, TimeUnit.MINUTES)).as("finished").isTrue();
    return new Run(process.exitValue(), Files.readString(log));
  }

  private Run subscribe() throws Exception {
    return relay("subscribe", "--source-url", hapi.baseUrl(), "--relay-url", RELAY_URL,
        "--receiver-secret", SECRET);
  }

  /** The relay's Subscriptions as HAPI holds them now (no cached answer), id to version. */
  private Map<String, Subscription> relaysOwn() {
    IGenericClient client = hapi.client();
    Bundle page = client.search().forResource(Subscription.class)
        .withTag("urn:pathling-relay", "managed")
        .count(500)
        .cacheControl(new CacheControlDirective().setNoCache(true))
        .returnBundle(Bundle.class)
        .execute();
    Map<String, Subscription> found = new java.util.HashMap<>();
    while (true) {
      for (Bundle.BundleEntryComponent entry : page.getEntry()) {
        Subscription s = (Subscription) entry.getResource();
        found.put(s.getIdElement().getIdPart(), s);
      }
      if (page.getLink(Bundle.LINK_NEXT) == null) {
        return found;
      }
      page = client.loadPage().next(page).execute();
    }
  }

  @AfterEach
  void removeLeftovers() {
    IGenericClient client = hapi.client();
    relaysOwn().keySet().forEach(id -> client.delete().resourceById("Subscription", id).execute());
    if (foreignId != null) {
      client.delete().resourceById("Subscription", foreignId).execute();
    }
  }

  @Test
  void subscribeTwiceThenUnsubscribe_outsideTheRepo_createsOnceActivatesRemovesOnlyItsOwn()
      throws Exception {
    Subscription foreign = new Subscription();
    foreign.setStatus(Subscription.SubscriptionStatus.REQUESTED);
    foreign.setReason("someone else's");
    foreign.setCriteria("Patient?");
    foreign.getChannel().setType(Subscription.SubscriptionChannelType.RESTHOOK)
        .setEndpoint("http://127.0.0.1:9/elsewhere").setPayload("application/fhir+json");
    foreignId = hapi.client().create().resource(foreign).execute().getId().getIdPart();

    Run first = subscribe();
    assertThat(first.exitCode()).as(first.out()).isZero();
    Map<String, Subscription> created = relaysOwn();
    assertThat(created.values()).as(first.out())
        .extracting(Subscription::getCriteria)
        .contains("Patient?", "Observation?")
        .doesNotHaveDuplicates(); // one per type
    assertThat(created.values()).allSatisfy(s -> {
      assertThat(s.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE);
      assertThat(s.getChannel().getEndpoint()).isEqualTo(RELAY_URL);
      assertThat(s.getChannel().getHeader()).extracting(h -> h.getValue())
          .containsExactly("Authorization: Bearer " + SECRET);
    });

    Run again = subscribe(); // at once: within HAPI's 60 s search cache
    assertThat(again.exitCode()).as(again.out()).isZero();
    Map<String, Subscription> after = relaysOwn();
    assertThat(after.keySet()).as(again.out()).isEqualTo(created.keySet());
    assertThat(after.values()).allSatisfy(s -> assertThat(s.getMeta().getVersionId())
        .as("%s changed by the second run", s.getIdElement().getIdPart())
        .isEqualTo(created.get(s.getIdElement().getIdPart()).getMeta().getVersionId()));

    Run removed = relay("unsubscribe", "--source-url", hapi.baseUrl());
    assertThat(removed.exitCode()).as(removed.out()).isZero();
    assertThat(relaysOwn()).as(removed.out()).isEmpty();
    assertThat(hapi.client().read().resource(Subscription.class).withId(foreignId).execute().getReason())
        .isEqualTo("someone else's");
  }
}
