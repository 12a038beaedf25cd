package org.pathlingrelay.source;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.source.SourceHistory.Deletion;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.wiring.Parts;

/**
 * What a sync learns of deletes from a source's {@code _history}: on the real HAPI JPA 8.8.0, and
 * on the fake source, which must answer the same.
 */
class SourceHistoryTest {

  /** A source to write to and read the history of. */
  abstract static class Specification {

    final String run = UUID.randomUUID().toString().substring(0, 8);

    abstract void write(Resource resource);

    abstract void delete(String type, String id);

    abstract String baseUrl();

    @Test
    void deletedSince_findsEveryDeleteAcrossPages_butNotOneUndoneByALaterWrite() {
      Instant since = Instant.now().minusMillis(1);
      // more than HAPI's 50-entry page cap, so the deletes sit on later pages
      for (int n = 0; n < 70; n++) {
        write(patient(n, false));
      }
      delete("Patient", run + "-0");
      delete("Patient", run + "-1");
      write(patient(1, true)); // re-created after its delete
      for (int n = 2; n < 70; n++) {
        write(patient(n, true)); // pushes the deletes down the pages
      }
      Observation observation = new Observation();
      observation.setId("Observation/" + run + "-obs");
      observation.setStatus(Observation.ObservationStatus.FINAL);
      write(observation);
      delete("Observation", run + "-obs");

      SourceHistory history = history();

      assertThat(history.deletedSince(since, List.of()))
          .hasValueSatisfying(deletions -> assertThat(deletions).containsExactlyInAnyOrder(
              new Deletion("Patient", run + "-0", Optional.of(2L)),
              new Deletion("Observation", run + "-obs", Optional.of(2L))));
      assertThat(history.deletedSince(since, List.of("Patient")))
          .hasValueSatisfying(deletions -> assertThat(deletions)
              .containsExactly(new Deletion("Patient", run + "-0", Optional.of(2L))));
    }

    @Test
    void deletedSince_asksAgain_notFromHapisSixtySecondCache() {
      Instant since = Instant.now().minusMillis(1);
      write(patient(100, false));
      SourceHistory history = history();
      assertThat(history.deletedSince(since, List.of("Patient"))).hasValue(List.of());

      delete("Patient", run + "-100");

      assertThat(history.deletedSince(since, List.of("Patient")))
          .hasValue(List.of(new Deletion("Patient", run + "-100", Optional.of(2L))));
    }

    @Test
    void deletedSince_anInstantAfterTheDelete_findsNothing() throws InterruptedException {
      write(patient(200, false));
      delete("Patient", run + "-200");
      Thread.sleep(5);
      Instant after = Instant.now();

      assertThat(history().deletedSince(after, List.of("Patient"))).hasValue(List.of());
    }

    private SourceHistory history() {
      FhirContext context = Parts.newFhirContext();
      IGenericClient client = SourceClients.fhirClient(context, baseUrl(), AccessTokens.NONE);
      return new SourceHistory(client);
    }

    private Patient patient(int n, boolean active) {
      Patient patient = new Patient();
      patient.setId("Patient/" + run + "-" + n);
      patient.setActive(active);
      return patient;
    }
  }

  @Nested
  class OnTheRealHapiJpa extends Specification {

    @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();

    @Override
    void write(Resource resource) {
      hapi.client().update().resource(resource).execute();
    }

    @Override
    void delete(String type, String id) {
      hapi.client().delete().resourceById(type, id).execute();
    }

    @Override
    String baseUrl() {
      return hapi.baseUrl();
    }
  }

  @Nested
  class OnTheFakeSource extends Specification {

    @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();

    @Override
    void write(Resource resource) {
      source.put(resource.fhirType(), Parts.newFhirContext().newJsonParser().encodeResourceToString(resource));
    }

    @Override
    void delete(String type, String id) {
      source.delete(type, id);
    }

    @Override
    String baseUrl() {
      return source.baseUrl();
    }
  }
}
