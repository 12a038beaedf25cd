package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
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
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.CodeType;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.DateTimeType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.UrlType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

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
  class Costs {

    @Test
    void aDeleteOfAHeldResource_costsMoreThanOneAnswered404() {
      pathling.setCost(new PathlingCost(50, 0, 700, 250, 0, 0, 0));
      client.update().resource(patient("1", "A")).execute();

      long held = millis(() -> client.delete().resourceById("Patient", "1").execute());
      long absent = millis(() -> assertThatThrownBy(() -> client.delete().resourceById("Patient", "1").execute())
          .isInstanceOf(ResourceNotFoundException.class));

      assertThat(held).isBetween(700L, 1_500L);
      assertThat(absent).isBetween(250L, 650L);
    }

    @Test
    void concurrentWritesOfDifferentTypes_shareItsCores() throws Exception {
      pathling.setCost(new PathlingCost(500, 0, 0, 0, 0, 0, 1));
      long started = System.nanoTime();
      CompletableFuture<MethodOutcome> patient = CompletableFuture.supplyAsync(
          () -> client.update().resource(patient("1", "A")).execute(), executor);
      client.update().resource(observation("o1")).execute();
      patient.get(5, TimeUnit.SECONDS);

      // alone each takes 500 ms; on one core, both together take twice that
      assertThat((System.nanoTime() - started) / 1_000_000).isGreaterThanOrEqualTo(950L);
      assertThat(pathling.conflicts()).isZero();
    }

    private static long millis(Runnable request) {
      long started = System.nanoTime();
      request.run();
      return (System.nanoTime() - started) / 1_000_000;
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
    void elementsIdPagesEveryRowWithItsMeta_followingNextLinks() {
      Patient first = patient("1", "A");
      first.getMeta().setVersionId("3");
      Patient second = patient("2", "B");
      second.getMeta().setVersionId("1");
      pathling.seed(first, first, second, observation("o"));

      Bundle page = client.search().forResource(Patient.class).elementsSubset("id").count(2)
          .returnBundle(Bundle.class).execute();
      List<String> rows = new ArrayList<>();
      int pages = 0;
      while (true) {
        pages++;
        for (Bundle.BundleEntryComponent entry : page.getEntry()) {
          Patient listed = (Patient) entry.getResource();
          assertThat(listed.hasName()).as("only id and meta").isFalse();
          rows.add(listed.getIdElement().getIdPart() + "@" + listed.getMeta().getVersionId());
        }
        if (page.getLink(Bundle.LINK_NEXT) == null) {
          break;
        }
        page = client.loadPage().next(page).execute();
      }

      assertThat(pages).isEqualTo(2);
      assertThat(rows).containsExactly("1@3", "1@3", "2@1");
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

  @Nested
  class BulkImport {

    @TempDir
    Path dir;

    @Test
    void answers202WithAJobUrlThatAnswers202UntilTheResultIsReady() throws Exception {
      pathling.setImportDuration(Duration.ofMillis(400));
      String url = ndjson("Patient.ndjson", patient("1", "Ann"));

      HttpResponse<String> kickOff = kickOff("$import", importOf(null, "Patient", url));

      assertThat(kickOff.statusCode()).isEqualTo(202);
      String jobUrl = kickOff.headers().firstValue("Content-Location").orElseThrow();
      assertThat(jobUrl).matches(Pattern.quote(pathling.baseUrl() + "/$job?id=")
          + "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
      assertThat(parse(kickOff, OperationOutcome.class).getIssueFirstRep().getSeverity())
          .isEqualTo(OperationOutcome.IssueSeverity.INFORMATION);
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.writeInProgress("Patient"));
      HttpResponse<String> running = send("GET", jobUrl, null);
      assertThat(running.statusCode()).isEqualTo(202);
      assertThat(running.headers().firstValue("X-Progress")).get().asString().endsWith("%");
      assertThat(pathling.totalRows()).isZero();

      HttpResponse<String> done = awaitJob(jobUrl);

      assertThat(done.statusCode()).isEqualTo(200);
      Parameters result = parse(done, Parameters.class);
      assertThat(result.getParameter("transactionTime").getValue()).isInstanceOf(StringType.class);
      assertThat(result.getParameter("request").getValue().primitiveValue())
          .isEqualTo(pathling.baseUrl() + "/$import");
      assertThat(result.getParameters("output"))
          .extracting(o -> o.getPart().get(0).getName() + "=" + o.getPart().get(0).getValue()
              .primitiveValue())
          .containsExactly("inputUrl=" + url);
      assertThat(pathling.ids("Patient")).containsExactly("1");
      assertThat(send("GET", jobUrl, null).statusCode()).isEqualTo(200); // and it stays
      assertThat(pathling.imports()).singleElement().satisfies(r -> {
        assertThat(r.inputs()).containsExactly(new ImportRequest.Input("Patient", url));
        assertThat(r.effectiveSaveMode()).isEqualTo("merge");
        assertThat(jobUrl).endsWith(r.jobId());
      });
    }

    @Test
    void mergeUpsertsByIdAndOverwriteReplacesTheTable() throws Exception {
      pathling.seed(patient("1", "Old"), patient("2", "Old"));

      importAndAwait(importOf("merge", "Patient",
          ndjson("a.ndjson", patient("1", "New"), patient("3", "New"))));

      assertThat(pathling.ids("Patient")).containsExactly("1", "2", "3");
      assertThat(pathling.current("Patient", "1")).get()
          .extracting(FakePathlingTest::familyOf).isEqualTo("New");

      importAndAwait(importOf("overwrite", "Patient", ndjson("b.ndjson", patient("4", "Only"))));

      assertThat(pathling.ids("Patient")).containsExactly("4");
    }

    @Test
    void refusesBadParametersWith400AtKickOff() throws Exception {
      String url = ndjson("Patient.ndjson", patient("1", "Ann"));
      Parameters coding = importOf(null, "Patient", url);
      coding.getParameterFirstRep().getPart().get(0).setValue(new Coding().setCode("Patient"));

      assertRefused(importOf(null, "Foo", url), "Unknown resource type.");
      assertRefused(importOf(null, "Bundle", url), "The resource type 'Bundle' is not supported.");
      assertRefused(coding, "Missing resourceType part in input parameter.");
      assertRefused(importOf("upsert", "Patient", url), "Unknown saveMode.");
      assertRefused(new Parameters(), "The input may not be empty.");

      assertThat(pathling.imports()).extracting(ImportRequest::status).containsOnly(400);
      assertThat(pathling.jobs()).isEmpty();
    }

    @Test
    void requiresPreferRespondAsyncAndALiteralFhirJsonAccept() throws Exception {
      String body = json(importOf(null, "Patient", ndjson("Patient.ndjson", patient("1", "A"))));

      HttpResponse<String> noPrefer = send("POST", pathling.baseUrl() + "/$import", body,
          "Content-Type", "application/fhir+json", "Accept", "application/fhir+json");
      HttpResponse<String> hapiAccept = send("POST", pathling.baseUrl() + "/$import", body,
          "Content-Type", "application/fhir+json", "Prefer", "respond-async",
          "Accept", "application/fhir+json;q=1.0, application/json+fhir;q=0.9");

      assertThat(noPrefer.statusCode()).isEqualTo(400);
      assertThat(noPrefer.body()).contains("Unknown 'Prefer' header value");
      assertThat(hapiAccept.statusCode()).isEqualTo(400);
      assertThat(hapiAccept.body()).contains("Unknown 'Accept' header value");
      assertThat(pathling.jobs()).isEmpty();
    }

    @Test
    void aUrlOutsideTheAllowableSourcesFailsTheJobWith403() throws Exception {
      pathling.setAllowableSources("file:///srv/staging/");
      String url = ndjson("Patient.ndjson", patient("1", "Ann"));

      HttpResponse<String> done = importAndAwait(importOf(null, "Patient", url));

      assertThat(done.statusCode()).isEqualTo(403);
      assertThat(parse(done, OperationOutcome.class).getIssueFirstRep().getDiagnostics())
          .isEqualTo("URL: '" + url + "' is not an allowed source for import.");
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void aMissingFileFailsTheJobWith500AndAppliesNothing() throws Exception {
      String patients = ndjson("Patient.ndjson", patient("1", "Ann"));
      Parameters parameters = importOf(null, "Patient", patients);
      addInput(parameters, "Observation", dir.resolve("gone.ndjson").toUri().toString());

      HttpResponse<String> done = importAndAwait(parameters);

      assertThat(done.statusCode()).isEqualTo(500);
      assertThat(done.body()).contains("Path does not exist");
      assertThat(pathling.totalRows()).isZero();
      assertThat(pathling.jobs()).singleElement()
          .extracting(ImportJob::state).isEqualTo(ImportJob.State.FAILED);
    }

    @Test
    void silentlySkipsUrlsThatDoNotEndInNdjson() throws Exception {
      String url = ndjson("Patient.json", patient("1", "Ann"));

      HttpResponse<String> done = importAndAwait(importOf(null, "Patient", url));

      assertThat(done.statusCode()).isEqualTo(200);
      assertThat(done.body()).contains(url);
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void runsImportsOneAtATimeInsteadOfAnswering503() throws Exception {
      // Long enough that the second kick-off lands while the first runs, even on a loaded machine.
      pathling.setImportDuration(Duration.ofMillis(1_500));
      String first = kickOff("$import", importOf(null, "Patient",
          ndjson("Patient.ndjson", patient("1", "Ann")))).headers()
          .firstValue("Content-Location").orElseThrow();
      HttpResponse<String> second = kickOff("$import", importOf(null, "Observation",
          ndjson("Observation.ndjson", observation("o1"))));

      assertThat(second.statusCode()).isEqualTo(202);
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.jobs().stream()
          .map(ImportJob::state).toList()
          .equals(List.of(ImportJob.State.RUNNING, ImportJob.State.QUEUED)));
      assertThat(awaitJob(first).statusCode()).isEqualTo(200);
      assertThat(awaitJob(second.headers().firstValue("Content-Location").orElseThrow())
          .statusCode()).isEqualTo(200);
      assertThat(pathling.totalRows()).isEqualTo(2);
    }

    @Test
    void anIdenticalKickOffGetsTheSameJobBackEvenAFailedOne() throws Exception {
      String url = dir.resolve("Patient.ndjson").toUri().toString(); // not written yet
      HttpResponse<String> first = kickOff("$import", importOf(null, "Patient", url));
      String jobUrl = first.headers().firstValue("Content-Location").orElseThrow();
      assertThat(awaitJob(jobUrl).statusCode()).isEqualTo(500);
      ndjson("Patient.ndjson", patient("1", "Ann"));

      HttpResponse<String> again = kickOff("$import", importOf(null, "Patient", url));

      assertThat(again.headers().firstValue("Content-Location")).contains(jobUrl);
      assertThat(send("GET", jobUrl, null).statusCode()).isEqualTo(500);
      assertThat(pathling.jobs()).hasSize(1);
      assertThat(pathling.totalRows()).isZero();
    }

    @Test
    void anOverlappingPutOfAnImportedTypeFailsWith500() throws Exception {
      pathling.setImportDuration(Duration.ofMillis(500));
      String jobUrl = kickOff("$import", importOf(null, "Patient",
          ndjson("Patient.ndjson", patient("1", "Ann")))).headers()
          .firstValue("Content-Location").orElseThrow();
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.writeInProgress("Patient"));

      assertThatThrownBy(() -> client.update().resource(patient("2", "Bob")).execute())
          .isInstanceOf(InternalErrorException.class);

      assertThat(awaitJob(jobUrl).statusCode()).isEqualTo(200);
      assertThat(pathling.conflicts()).isEqualTo(1);
      assertThat(pathling.ids("Patient")).containsExactly("1");
    }

    @Test
    void deleteForgetsTheJobButTheImportStillLands() throws Exception {
      pathling.setImportDuration(Duration.ofMillis(300));
      String jobUrl = kickOff("$import", importOf(null, "Patient",
          ndjson("Patient.ndjson", patient("1", "Ann")))).headers()
          .firstValue("Content-Location").orElseThrow();

      assertThat(send("DELETE", jobUrl, null).statusCode()).isEqualTo(202);

      assertThat(send("GET", jobUrl, null).statusCode()).isEqualTo(404);
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.ids("Patient").contains("1"));
      assertThat(pathling.jobs()).singleElement()
          .extracting(ImportJob::state).isEqualTo(ImportJob.State.DELETED);
    }

    @Test
    void failNextRefusesAKickOffButSparesPollsAndDeletes() throws Exception {
      String url = ndjson("Patient.ndjson", patient("1", "Ann"));
      pathling.failNext(1, 503, null);

      assertThat(kickOff("$import", importOf(null, "Patient", url)).statusCode()).isEqualTo(503);
      String jobUrl = kickOff("$import", importOf(null, "Patient", url)).headers()
          .firstValue("Content-Location").orElseThrow();
      pathling.failNext(2, 503, null);

      assertThat(awaitJob(jobUrl).statusCode()).isEqualTo(200);
      assertThat(send("DELETE", jobUrl, null).statusCode()).isEqualTo(202);
      assertThat(pathling.imports()).singleElement().extracting(ImportRequest::status)
          .isEqualTo(202);
    }

    @Test
    void anUnknownJobAnswers404() throws Exception {
      assertThat(send("GET", pathling.baseUrl() + "/$job?id=" + UUID.randomUUID(), null)
          .statusCode()).isEqualTo(404);
    }

    @Test
    void resetForgetsJobsRecordsAndImportKnobs() throws Exception {
      pathling.setImportDuration(Duration.ofSeconds(30));
      String jobUrl = kickOff("$import", importOf(null, "Patient",
          ndjson("Patient.ndjson", patient("1", "Ann")))).headers()
          .firstValue("Content-Location").orElseThrow();
      await().atMost(Duration.ofSeconds(5)).until(() -> pathling.writeInProgress("Patient"));

      pathling.reset();

      assertThat(pathling.jobs()).isEmpty();
      assertThat(pathling.imports()).isEmpty();
      assertThat(pathling.importInProgress()).isFalse();
      assertThat(send("GET", jobUrl, null).statusCode()).isEqualTo(404);
      assertThat(pathling.writeInProgress("Patient")).isFalse();
      assertThat(importAndAwait(importOf(null, "Patient", ndjson("b.ndjson", patient("2", "B"))))
          .statusCode()).isEqualTo(200); // the duration is back to zero
      assertThat(pathling.ids("Patient")).containsExactly("2");
    }

    private String ndjson(String name, Resource... resources) throws IOException {
      IParser parser = FhirContext.forR4Cached().newJsonParser();
      Path file = dir.resolve(name);
      Files.writeString(file, Arrays.stream(resources).map(parser::encodeResourceToString)
          .collect(Collectors.joining("\n", "", "\n")));
      return file.toUri().toString();
    }

    private void assertRefused(Parameters parameters, String diagnostics) throws Exception {
      HttpResponse<String> response = kickOff("$import", parameters);
      assertThat(response.statusCode()).isEqualTo(400);
      assertThat(parse(response, OperationOutcome.class).getIssueFirstRep().getDiagnostics())
          .isEqualTo(diagnostics);
    }
  }

  @Nested
  class PingAndPull {

    @Test
    void recordsTheParametersAndLoadsWhatOnPnpSupplies() throws Exception {
      List<ImportPnpRequest> asked = new CopyOnWriteArrayList<>();
      pathling.onPnp(request -> {
        asked.add(request);
        return Map.of("Patient", List.of(json(patient("1", "Ann"))));
      });
      Parameters parameters = new Parameters();
      parameters.addParameter().setName("exportUrl").setValue(new UrlType("https://src/fhir"));
      parameters.addParameter().setName("saveMode").setValue(new CodeType("overwrite"));
      parameters.addParameter().setName("_type").setValue(new StringType("Patient"));
      parameters.addParameter().setName("_since")
          .setValue(new InstantType("2025-01-01T00:00:00Z"));

      HttpResponse<String> done = awaitJob(kickOff("$import-pnp", parameters).headers()
          .firstValue("Content-Location").orElseThrow());

      assertThat(done.statusCode()).isEqualTo(200);
      assertThat(done.body()).contains("Patient.0000.ndjson");
      assertThat(pathling.ids("Patient")).containsExactly("1");
      assertThat(pathling.pnpRequests()).singleElement().satisfies(r -> {
        assertThat(r.exportUrl()).isEqualTo("https://src/fhir");
        assertThat(r.effectiveSaveMode()).isEqualTo("overwrite");
        assertThat(r.types()).containsExactly("Patient");
        assertThat(r.since()).isEqualTo(Instant.parse("2025-01-01T00:00:00Z"));
        assertThat(r.parametersJson()).contains("\"valueInstant\"");
        assertThat(asked).containsExactly(r);
      });
    }

    @Test
    void requiresExportUrlAsAValueUrl() throws Exception {
      Parameters asString = new Parameters();
      asString.addParameter().setName("exportUrl").setValue(new StringType("https://src/fhir"));

      for (Parameters parameters : List.of(new Parameters(), asString)) {
        HttpResponse<String> response = kickOff("$import-pnp", parameters);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("Missing required parameter: exportUrl");
      }
      assertThat(pathling.pnpRequests()).extracting(ImportPnpRequest::status)
          .containsExactly(400, 400);
    }

    @Test
    void ignoresASinceThatIsNotAnInstant() throws Exception {
      pathling.onPnp(request -> Map.of("Patient", List.of(json(patient("1", "Ann")))));
      Parameters parameters = new Parameters();
      parameters.addParameter().setName("exportUrl").setValue(new UrlType("https://src/fhir"));
      parameters.addParameter().setName("_since").setValue(new DateTimeType("2025-01-01"));

      assertThat(kickOff("$import-pnp", parameters).statusCode()).isEqualTo(202);

      assertThat(pathling.pnpRequests()).singleElement()
          .satisfies(r -> assertThat(r.since()).isNull());
    }

    @Test
    void anExportWithNothingInItFailsTheJobWith400() throws Exception {
      Parameters parameters = new Parameters();
      parameters.addParameter().setName("exportUrl").setValue(new UrlType("https://src/fhir"));

      HttpResponse<String> done = awaitJob(kickOff("$import-pnp", parameters).headers()
          .firstValue("Content-Location").orElseThrow());

      assertThat(done.statusCode()).isEqualTo(400);
      assertThat(parse(done, OperationOutcome.class).getIssueFirstRep().getDiagnostics())
          .isEqualTo("Ping and pull import failed: No files with extension .ndjson were "
              + "downloaded");
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

  // ---------------------------------------------------------------- bulk import helpers

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** {@code names} alternate header names and values. */
  private static HttpResponse<String> send(String method, String url, String body,
      String... headers) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body))
        .timeout(Duration.ofSeconds(10));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A kick-off with the headers Pathling requires. */
  private static HttpResponse<String> kickOff(String operation, Parameters parameters)
      throws IOException, InterruptedException {
    return send("POST", pathling.baseUrl() + "/" + operation, json(parameters),
        "Content-Type", "application/fhir+json", "Accept", "application/fhir+json",
        "Prefer", "respond-async");
  }

  /** Polls a job URL until it stops answering 202. */
  private static HttpResponse<String> awaitJob(String jobUrl) {
    return await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
        .until(() -> send("GET", jobUrl, null, "Accept", "application/fhir+json"),
            response -> response.statusCode() != 202);
  }

  private static HttpResponse<String> importAndAwait(Parameters parameters) throws Exception {
    HttpResponse<String> kickOff = kickOff("$import", parameters);
    assertThat(kickOff.statusCode()).as(kickOff.body()).isEqualTo(202);
    return awaitJob(kickOff.headers().firstValue("Content-Location").orElseThrow());
  }

  /** An $import body: saveMode (when given) and one input. */
  private static Parameters importOf(String saveMode, String type, String url) {
    Parameters parameters = new Parameters();
    addInput(parameters, type, url);
    if (saveMode != null) {
      parameters.addParameter().setName("saveMode").setValue(new CodeType(saveMode));
    }
    return parameters;
  }

  private static void addInput(Parameters parameters, String type, String url) {
    Parameters.ParametersParameterComponent input = parameters.addParameter().setName("input");
    input.addPart().setName("resourceType").setValue(new CodeType(type));
    input.addPart().setName("url").setValue(new UrlType(url));
  }

  private static String json(IBaseResource resource) {
    return FhirContext.forR4Cached().newJsonParser().encodeResourceToString(resource);
  }

  private static <T extends IBaseResource> T parse(HttpResponse<String> response, Class<T> type) {
    return FhirContext.forR4Cached().newJsonParser().parseResource(type, response.body());
  }

  private static String familyOf(IBaseResource resource) {
    return ((Patient) resource).getNameFirstRep().getFamily();
  }
}
