package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InternalErrorException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Specifies the fake: each Pathling behaviour and quirk the relay's tests rely on. */
class FakePathlingTest {

  @RegisterExtension
  static final FakePathling pathling = new FakePathling();

  private IGenericClient client;
  private ExecutorService executor;

  @BeforeEach
  void setUp() {
    FhirContext ctx = FhirContext.forR4Cached();
    ctx.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
    client = ctx.newRestfulGenericClient(pathling.baseUrl());
    executor = Executors.newFixedThreadPool(2);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    executor.shutdownNow();
    assertThat(executor.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  @Nested
  class Update {

    @Test
    void answers400WhenTheBodyIdDiffersFromTheUrlId() {
      assertThatThrownBy(() -> client.update()
          .resource("{\"resourceType\":\"Patient\",\"id\":\"2\"}").withId("Patient/1").execute())
          .isInstanceOfSatisfying(InvalidRequestException.class, e -> {
            assertThat(e.getStatusCode()).isEqualTo(400);
            assertThat(e.getMessage()).contains("does not match URL ID");
          });
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void answers200EvenForANewResourceAndKeepsOneRowWhenRepeated() {
      MethodOutcome first = client.update().resource(patient("1", "Ann")).execute();
      MethodOutcome second = client.update().resource(patient("1", "Bob")).execute();

      assertThat(first.getResponseStatusCode()).isEqualTo(200);
      assertThat(second.getResponseStatusCode()).isEqualTo(200);
      assertThat(pathling.rowCount("Patient", "1")).isEqualTo(1);
      assertThat(pathling.current("Patient", "1")).get()
          .extracting(FakePathlingTest::familyOf).isEqualTo("Bob");
    }

    @Test
    void storesMetaAsSentWithoutVersioning() {
      Patient sent = patient("1", "Ann");
      sent.getMeta().setVersionId("7").setSource("#relay");

      client.update().resource(sent).execute();

      Patient stored = (Patient) pathling.current("Patient", "1").orElseThrow();
      assertThat(stored.getMeta().getVersionId()).isEqualTo("7");
      assertThat(stored.getMeta().getSource()).isEqualTo("#relay");
      assertThat(stored.getMeta().hasLastUpdated()).isFalse();
    }

    @Test
    void replacesEveryRowWithThatIdLikeADeltaMerge() {
      pathling.seed(patient("1", "Old"), patient("1", "Old"));

      client.update().resource(patient("1", "New")).execute();

      assertThat(pathling.rowCount("Patient", "1")).isEqualTo(2);
      assertThat(pathling.rows("Patient"))
          .extracting(FakePathlingTest::familyOf).containsOnly("New");
    }
  }

  @Nested
  class Delete {

    @Test
    void answers204ThenNotFound() {
      pathling.seed(patient("1", "Ann"));

      MethodOutcome outcome = client.delete().resourceById("Patient", "1").execute();

      assertThat(outcome.getResponseStatusCode()).isEqualTo(204);
      assertThat(pathling.rowCount("Patient", "1")).isZero();
      assertThatThrownBy(() -> client.delete().resourceById("Patient", "1").execute())
          .isInstanceOf(ResourceNotFoundException.class);
    }
  }

  @Nested
  class Batch {

    @Test
    void twoPutsOfOneNewIdStoreTwoRowsForGood() {
      Bundle response = batch(put(patient("1", "A")), put(patient("1", "B")));

      assertThat(response.getType()).isEqualTo(BundleType.BATCHRESPONSE);
      assertThat(response.getEntry()).extracting(e -> e.getResponse().getStatus())
          .containsExactly("200", "200");
      assertThat(pathling.duplicateIds()).isEqualTo(Map.of("Patient/1", 2));

      client.update().resource(patient("1", "C")).execute();
      assertThat(pathling.rowCount("Patient", "1")).isEqualTo(2);
    }

    @Test
    void aPutOfAStoredIdReplacesIt() {
      pathling.seed(patient("1", "Old"));

      batch(put(patient("1", "New")));

      assertThat(pathling.rows("Patient")).singleElement()
          .extracting(FakePathlingTest::familyOf).isEqualTo("New");
    }

    @Test
    void twoPutsOfOneStoredIdFailWithAMergeErrorAndApplyNothing() {
      pathling.seed(patient("1", "Old"));

      assertThatThrownBy(() -> batch(put(patient("1", "A")), put(patient("1", "B"))))
          .isInstanceOf(InternalErrorException.class)
          .hasMessageContaining("multiple source rows matched");
      assertThat(pathling.rows("Patient")).singleElement()
          .extracting(FakePathlingTest::familyOf).isEqualTo("Old");
    }

    @Test
    void aDeleteOfAnAbsentIdFailsTheWholeBatchAndAppliesNothing() {
      pathling.seed(patient("1", "Ann"));

      assertThatThrownBy(() -> batch(put(patient("2", "Bob")), delete("Patient/1"),
          delete("Patient/404")))
          .isInstanceOf(ResourceNotFoundException.class)
          .hasMessageContaining("Patient/404");
      assertThat(pathling.ids("Patient")).containsExactly("1");
    }

    @Test
    void runsDeletesBeforePuts() {
      pathling.seed(patient("1", "Old"));

      Bundle response = batch(put(patient("1", "New")), delete("Patient/1"));

      assertThat(response.getEntry()).extracting(e -> e.getResponse().getStatus())
          .containsExactly("200", "204");
      assertThat(pathling.rows("Patient")).singleElement()
          .extracting(FakePathlingTest::familyOf).isEqualTo("New");
    }

    @Test
    void givesAPostEntryABrandNewId() {
      Bundle response = batch(post(patient("mine", "Ann")));

      String location = response.getEntryFirstRep().getResponse().getLocation();
      assertThat(location).startsWith("Patient/").isNotEqualTo("Patient/mine");
      assertThat(pathling.ids("Patient"))
          .containsExactly(location.substring("Patient/".length()));
    }

    @Test
    void rejectsOtherBundleTypes() {
      Bundle transaction = new Bundle().setType(BundleType.TRANSACTION);
      transaction.addEntry().setResource(patient("1", "Ann")).getRequest()
          .setMethod(HTTPVerb.PUT).setUrl("Patient/1");

      assertThatThrownBy(() -> client.transaction().withBundle(transaction).execute())
          .isInstanceOf(InvalidRequestException.class);
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void isRecordedWithEveryEntryInOrder() {
      pathling.seed(patient("9", "Gone"));

      batch(put(patient("1", "A")), delete("Patient/9"), post(patient(null, "B")));

      assertThat(pathling.writes()).singleElement().satisfies(r -> {
        assertThat(r.isBatch()).isTrue();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.entries()).containsExactly(
            new RecordedRequest.Entry("PUT", "Patient/1"),
            new RecordedRequest.Entry("DELETE", "Patient/9"),
            new RecordedRequest.Entry("POST", "Patient"));
      });
    }
  }

  @Nested
  class Conflicts {

    @Test
    void anOverlappingWriteToTheSameTypeFailsWith500() throws Exception {
      pathling.setWriteDelay(Duration.ofMillis(400), Duration.ZERO);
      CompletableFuture<MethodOutcome> slow = CompletableFuture.supplyAsync(
          () -> client.update().resource(patient("1", "A")).execute(), executor);
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.writeInProgress("Patient"));

      assertThatThrownBy(() -> batch(put(patient("2", "B"))))
          .isInstanceOf(InternalErrorException.class)
          .satisfies(e -> assertThat(((BaseServerResponseException) e).getStatusCode())
              .isEqualTo(500));

      assertThat(slow.get(5, TimeUnit.SECONDS).getResponseStatusCode()).isEqualTo(200);
      assertThat(pathling.conflicts()).isEqualTo(1);
      assertThat(pathling.ids("Patient")).containsExactly("1");
    }

    @Test
    void writesToDifferentTypesOverlapFreely() throws Exception {
      pathling.setWriteDelay(Duration.ofMillis(400), Duration.ZERO);
      CompletableFuture<MethodOutcome> slow = CompletableFuture.supplyAsync(
          () -> client.update().resource(patient("1", "A")).execute(), executor);
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.writeInProgress("Patient"));

      client.update().resource(observation("o1")).execute();

      assertThat(slow.get(5, TimeUnit.SECONDS).getResponseStatusCode()).isEqualTo(200);
      assertThat(pathling.conflicts()).isZero();
      assertThat(pathling.totalRows()).isEqualTo(2);
    }
  }

  @Nested
  class Knobs {

    @Test
    void failNextAnswersTheStatusWithRetryAfterAndAppliesNothing() {
      pathling.failNext(1, 503, Duration.ofSeconds(7));
      // HAPI 8.8.0's client exceptions carry no response headers: read them in an interceptor.
      List<String> retryAfter = new CopyOnWriteArrayList<>();
      client.registerInterceptor(new IClientInterceptor() {
        @Override
        public void interceptRequest(IHttpRequest request) {
        }

        @Override
        public void interceptResponse(IHttpResponse response) {
          retryAfter.addAll(response.getHeaders("Retry-After"));
        }
      });

      BaseServerResponseException failure = catchThrowableOfType(BaseServerResponseException.class,
          () -> client.update().resource(patient("1", "Ann")).execute());

      assertThat(failure.getStatusCode()).isEqualTo(503);
      assertThat(failure.getOperationOutcome()).isNotNull();
      assertThat(retryAfter).containsExactly("7");
      assertThat(pathling.totalRows()).isZero();
      client.update().resource(patient("1", "Ann")).execute(); // the plan is used up
      assertThat(pathling.totalRows()).isEqualTo(1);
      assertThat(pathling.writes()).extracting(RecordedRequest::status).containsExactly(503, 200);
    }

    @Test
    void failNextSparesReads() {
      pathling.seed(patient("1", "Ann"));
      pathling.failNext(1, 500, null);

      assertThat(client.read().resource(Patient.class).withId("1").execute()).isNotNull();
      assertThatThrownBy(() -> client.delete().resourceById("Patient", "1").execute())
          .isInstanceOf(InternalErrorException.class);
      assertThat(pathling.rowCount("Patient", "1")).isEqualTo(1);
    }

    @Test
    void rejectWhenAnswers400ForAPutAndForTheWholeBatch() {
      pathling.rejectWhen(r -> r instanceof Patient p && p.getNameFirstRep().getFamily()
          .equals("Poison"));

      assertThatThrownBy(() -> client.update().resource(patient("1", "Poison")).execute())
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("Patient/1");
      assertThatThrownBy(() -> batch(put(patient("2", "Fine")), put(patient("3", "Poison"))))
          .isInstanceOf(InvalidRequestException.class)
          .hasMessageContaining("Patient/3");
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void refusesConnectionsWhileDownAndComesBackOnTheSamePortWithTheSameData() {
      client.update().resource(patient("1", "Ann")).execute();
      int port = pathling.port();

      pathling.goDown();
      assertThatThrownBy(() -> client.read().resource(Patient.class).withId("1").execute())
          .isInstanceOf(FhirClientConnectionException.class);

      pathling.comeBack();
      assertThat(pathling.port()).isEqualTo(port);
      Patient read = client.read().resource(Patient.class).withId("1").execute();
      assertThat(read.getNameFirstRep().getFamily()).isEqualTo("Ann");
    }

    @Test
    void resetClearsDataRequestsAndKnobs() {
      pathling.seed(patient("1", "Ann"));
      pathling.failNext(5, 503, null);
      pathling.rejectWhen(r -> true);
      pathling.setWriteDelay(Duration.ofSeconds(10), Duration.ofSeconds(10));

      pathling.reset();

      assertThat(pathling.totalRows()).isZero();
      assertThat(pathling.requests()).isEmpty();
      client.update().resource(patient("1", "Ann")).execute();
      assertThat(pathling.totalRows()).isEqualTo(1);
    }
  }

  @Nested
  class Reads {

    @Test
    void summaryCountReturnsTheNumberOfRows() {
      pathling.seed(patient("1", "A"), patient("1", "A"), patient("2", "B"), observation("o"));

      Bundle count = client.search().forResource(Patient.class).summaryMode(SummaryEnum.COUNT)
          .returnBundle(Bundle.class).execute();

      assertThat(count.getType()).isEqualTo(BundleType.SEARCHSET);
      assertThat(count.getTotal()).isEqualTo(3);
      assertThat(count.getEntry()).isEmpty();
    }

    @Test
    void readReturnsTheStoredResourceOr404() {
      pathling.seed(patient("1", "Ann"));

      assertThat(client.read().resource(Patient.class).withId("1").execute()
          .getNameFirstRep().getFamily()).isEqualTo("Ann");
      assertThatThrownBy(() -> client.read().resource(Patient.class).withId("2").execute())
          .isInstanceOf(ResourceNotFoundException.class);
      assertThat(pathling.requests()).extracting(RecordedRequest::status)
          .containsExactly(200, 404);
    }

    @Test
    void servesMetadata() {
      assertThat(client.capabilities().ofType(
          org.hl7.fhir.r4.model.CapabilityStatement.class).execute().getRest()).isNotEmpty();
    }
  }

  // ---------------------------------------------------------------- helpers

  private Bundle batch(Bundle.BundleEntryComponent... entries) {
    Bundle bundle = new Bundle().setType(BundleType.BATCH);
    for (Bundle.BundleEntryComponent entry : entries) {
      bundle.addEntry(entry);
    }
    return client.transaction().withBundle(bundle).execute();
  }

  private static Bundle.BundleEntryComponent put(Resource resource) {
    Bundle.BundleEntryComponent entry = new Bundle.BundleEntryComponent().setResource(resource);
    entry.getRequest().setMethod(HTTPVerb.PUT)
        .setUrl(resource.fhirType() + "/" + resource.getIdPart());
    return entry;
  }

  private static Bundle.BundleEntryComponent post(Resource resource) {
    Bundle.BundleEntryComponent entry = new Bundle.BundleEntryComponent().setResource(resource);
    entry.getRequest().setMethod(HTTPVerb.POST).setUrl(resource.fhirType());
    return entry;
  }

  private static Bundle.BundleEntryComponent delete(String reference) {
    Bundle.BundleEntryComponent entry = new Bundle.BundleEntryComponent();
    entry.getRequest().setMethod(HTTPVerb.DELETE).setUrl(reference);
    return entry;
  }

  private static Patient patient(String id, String family) {
    Patient patient = new Patient();
    patient.setId(id);
    patient.addName().setFamily(family);
    return patient;
  }

  private static Observation observation(String id) {
    Observation observation = new Observation();
    observation.setId(id);
    observation.setStatus(Observation.ObservationStatus.FINAL);
    return observation;
  }

  private static String familyOf(IBaseResource resource) {
    return ((Patient) resource).getNameFirstRep().getFamily();
  }
}
