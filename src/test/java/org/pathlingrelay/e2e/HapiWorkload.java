package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.Subscription;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;

/**
 * Writes to a real HAPI JPA server through its REST API, as clients of the source do, and keeps
 * the truth to compare Pathling with: for every id the version HAPI gave its last write, and
 * whether that write was a delete.
 */
public final class HapiWorkload {

  /** What HAPI holds for one resource after the workload. */
  public record Truth(String type, String id, String version, boolean deleted) {}

  private final HapiJpaServer hapi;
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final Map<String, Truth> truth = new ConcurrentHashMap<>();

  public HapiWorkload(HapiJpaServer hapi) {
    this.hapi = hapi;
  }

  /**
   * A Subscription for one type from the repository's own template, pointing at the relay, and
   * waits until HAPI has made it active: what changes before that is never delivered.
   */
  IIdType subscribe(String type, String relayUrl, String secret) throws IOException {
    String template =
        Files.readString(Path.of("subscriptions", "rest-hook", type + ".json"))
            .replace("${RELAY_URL}", relayUrl)
            .replace("${RELAY_SECRET}", secret);
    Subscription subscription =
        hapi.fhirContext().newJsonParser().parseResource(Subscription.class, template);
    IIdType id = client().create().resource(subscription).execute().getId().toUnqualifiedVersionless();
    awaitActive(id);
    return id;
  }

  void awaitActive(IIdType id) {
    await("Subscription " + id.getIdPart() + " active")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                client().read().resource(Subscription.class).withId(id.getIdPart()).execute().getStatus()
                    == Subscription.SubscriptionStatus.ACTIVE);
  }

  void unsubscribe(IIdType id) {
    client().delete().resourceById(id).execute();
  }

  IGenericClient client() {
    return hapi.client();
  }

  /** An id no other test in this run uses. */
  String id(String label, int n) {
    return run + "-" + label + "-" + n;
  }

  /**
   * Writes versions {@code from..to} of {@code count} Patients and Observations from {@code
   * threads} threads (the first version creates them: PUT with the client's id); each thread owns
   * its ids (one writer per resource), alternating single calls and transactions.
   */
  public void write(int count, int from, int to, int threads) throws Exception {
    inParallel(count, threads, (client, n) -> {
      for (int v = from; v <= to; v++) {
        Patient patient = patient(id("p", n), v);
        Observation observation = observation(id("o", n), v);
        if ((n + v) % 2 == 0) {
          remember(client.update().resource(patient).execute().getId());
          remember(client.update().resource(observation).execute().getId());
        } else {
          Bundle tx = new Bundle().setType(Bundle.BundleType.TRANSACTION);
          put(tx, patient);
          put(tx, observation);
          for (Bundle.BundleEntryComponent entry : client.transaction().withBundle(tx).execute().getEntry()) {
            remember(new IdType(entry.getResponse().getLocation()));
          }
        }
      }
    });
  }

  /** Deletes the Patient and Observation of every {@code every}th n, by single calls and transactions. */
  public void delete(int count, int every, int threads) throws Exception {
    inParallel(count, threads, (client, n) -> {
      if (n % every != 0) {
        return;
      }
      String patientId = id("p", n);
      String observationId = id("o", n);
      if (n % 2 == 0) {
        Bundle tx = new Bundle().setType(Bundle.BundleType.TRANSACTION);
        tx.addEntry().getRequest().setMethod(Bundle.HTTPVerb.DELETE).setUrl("Patient/" + patientId);
        tx.addEntry().getRequest().setMethod(Bundle.HTTPVerb.DELETE).setUrl("Observation/" + observationId);
        client.transaction().withBundle(tx).execute();
      } else {
        client.delete().resourceById("Patient", patientId).execute();
        client.delete().resourceById("Observation", observationId).execute();
      }
      truth.put("Patient/" + patientId, new Truth("Patient", patientId, null, true));
      truth.put("Observation/" + observationId, new Truth("Observation", observationId, null, true));
    });
  }

  private interface Writer {
    void write(IGenericClient client, int n);
  }

  private void inParallel(int count, int threads, Writer writer) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> work = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        work.add(pool.submit(() -> {
          IGenericClient client = client();
          for (int n = thread; n < count; n += threads) {
            writer.write(client, n);
          }
          return null;
        }));
      }
      for (Future<?> f : work) {
        f.get(5, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static void put(Bundle tx, Resource resource) {
    tx.addEntry()
        .setResource(resource)
        .getRequest()
        .setMethod(Bundle.HTTPVerb.PUT)
        .setUrl(resource.fhirType() + "/" + resource.getIdElement().getIdPart());
  }

  private void remember(IIdType written) {
    truth.put(
        written.getResourceType() + "/" + written.getIdPart(),
        new Truth(written.getResourceType(), written.getIdPart(), written.getVersionIdPart(), false));
  }

  static Patient patient(String id, int version) {
    Patient patient = new Patient();
    patient.setId("Patient/" + id);
    patient.addName().setFamily("Family-" + version);
    return patient;
  }

  static Observation observation(String id, int version) {
    Observation observation = new Observation();
    observation.setId("Observation/" + id);
    observation.setStatus(Observation.ObservationStatus.FINAL);
    observation.getCode().setText("step-" + version);
    return observation;
  }

  public List<Truth> truth() {
    return List.copyOf(truth.values());
  }

  /** The version HAPI itself reports now: the test's bookkeeping must agree with the server. */
  String versionInHapi(String type, String id) {
    IBaseResource resource =
        client().read().resource(type).withId(id).execute();
    return resource.getMeta().getVersionId();
  }

  /** Waits until Pathling holds every live resource at HAPI's last version and none deleted. */
  public void awaitHeldBy(FakePathling pathling, Duration atMost) {
    await("Pathling matches HAPI")
        .atMost(atMost)
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(() -> {
          for (Truth truth : truth()) {
            Optional<String> held =
                pathling.current(truth.type(), truth.id()).map(r -> r.getMeta().getVersionId());
            if (truth.deleted()) {
              assertThat(held).as("%s/%s deleted", truth.type(), truth.id()).isEmpty();
            } else {
              assertThat(held).as("%s/%s", truth.type(), truth.id()).contains(truth.version());
            }
          }
        });
    assertThat(pathling.duplicateIds()).as("ids held twice").isEmpty();
  }
}
