package org.pathlingrelay.source;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.source.SourceHistory.Deletion;
import org.pathlingrelay.testing.HapiJpaServer;

/** What a sync learns of deletes from a real HAPI JPA 8.8.0's {@code _history}. */
class SourceHistoryTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();

  private final String run = UUID.randomUUID().toString().substring(0, 8);

  @Test
  void deletedSince_findsEveryDeleteAcrossPages_butNotOneUndoneByALaterWrite() {
    Instant since = Instant.now().minusMillis(1);
    IGenericClient writer = hapi.client();
    // more than HAPI's 50-entry page cap, so the deletes sit on several pages
    for (int n = 0; n < 70; n++) {
      writer.update().resource(patient(n, false)).execute();
    }
    writer.delete().resourceById("Patient", run + "-0").execute();
    writer.delete().resourceById("Patient", run + "-1").execute();
    writer.update().resource(patient(1, true)).execute(); // re-created after its delete
    for (int n = 2; n < 70; n++) {
      writer.update().resource(patient(n, true)).execute(); // pushes the deletes down the pages
    }
    Observation observation = new Observation();
    observation.setId("Observation/" + run + "-obs");
    observation.setStatus(Observation.ObservationStatus.FINAL);
    writer.update().resource(observation).execute();
    writer.delete().resourceById("Observation", run + "-obs").execute();

    SourceHistory history = new SourceHistory(client());

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
    IGenericClient writer = hapi.client();
    writer.update().resource(patient(100, false)).execute();
    SourceHistory history = new SourceHistory(client());
    assertThat(history.deletedSince(since, List.of("Patient"))).hasValue(List.of());

    writer.delete().resourceById("Patient", run + "-100").execute();

    assertThat(history.deletedSince(since, List.of("Patient")))
        .hasValue(List.of(new Deletion("Patient", run + "-100", Optional.of(2L))));
  }

  @Test
  void deletedSince_ofAnInstantAfterTheDelete_findsNothing() throws InterruptedException {
    IGenericClient writer = hapi.client();
    writer.update().resource(patient(200, false)).execute();
    writer.delete().resourceById("Patient", run + "-200").execute();
    Thread.sleep(5);
    Instant after = Instant.now();

    assertThat(new SourceHistory(client()).deletedSince(after, List.of("Patient"))).hasValue(List.of());
  }

  private IGenericClient client() {
    return SourceClients.fhirClient(hapi.fhirContext(), hapi.baseUrl(), AccessTokens.NONE);
  }

  private Patient patient(int n, boolean active) {
    Patient patient = new Patient();
    patient.setId("Patient/" + run + "-" + n);
    patient.setActive(active);
    return patient;
  }
}
