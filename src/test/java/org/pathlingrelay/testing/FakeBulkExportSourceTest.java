package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Specifies the fake: each HAPI 8.8.0 bulk-export behaviour the relay's tests rely on. */
class FakeBulkExportSourceTest {

  @RegisterExtension
  static final FakeBulkExportSource source = new FakeBulkExportSource();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();
  private static final Path WIRE = Path.of("src", "test", "fixtures", "hapi-8.8.0-wire");
  private static final String UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  private static final String HAPI_INSTANT =
      "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\+00:00";
  private static final String RAW = "application/fhir+ndjson, application/ndjson, */*";

  @Nested
  class KickOff {

    @Test
    void answers202WithAnEmptyBodyAndTheStatusUrlInContentLocation() {
      HttpResponse<byte[]> response = kickOff("$export");

      assertThat(response.statusCode()).isEqualTo(202);
      assertThat(response.body()).isEmpty();
      assertThat(header(response, "Content-Length")).isEqualTo("0");
      assertThat(header(response, "X-Powered-By"))
          .isEqualTo("HAPI FHIR 8.8.0 REST Server (FHIR Server; FHIR 4.0.1/R4)");
      assertThat(header(response, "Content-Location"))
          .matches(quote(source.baseUrl()) + "/\\$export-poll-status\\?_jobId=" + UUID);

      FakeBulkExportSource.KickOff recorded = source.kickOffs().get(0);
      assertThat(recorded.method()).isEqualTo("GET");
      assertThat(recorded.path()).isEqualTo("$export");
      assertThat(recorded.accept()).isEqualTo("application/fhir+json");
      assertThat(recorded.header("prefer")).isEqualTo("respond-async");
      assertThat(recorded.status()).isEqualTo(202);
      assertThat(header(response, "Content-Location")).endsWith("=" + recorded.jobId());
      assertThat(source.jobIds()).containsExactly(recorded.jobId());
    }

    @Test
    void acceptsPatientAndGroupLevelsAndRecordsTheirParameters() {
      assertThat(kickOff("Patient/$export?_type=Patient&_typeFilter="
          + encode("Patient?active=true")).statusCode()).isEqualTo(202);
      assertThat(kickOff("Group/g1/$export?_type=Patient,Condition&_type=Encounter")
          .statusCode()).isEqualTo(202);

      List<FakeBulkExportSource.KickOff> kickOffs = source.kickOffs();
      assertThat(kickOffs).extracting(FakeBulkExportSource.KickOff::path)
          .containsExactly("Patient/$export", "Group/g1/$export");
      assertThat(kickOffs.get(0).param("_typeFilter")).containsExactly("Patient?active=true");
      assertThat(kickOffs.get(1).param("_type")).containsExactly("Patient,Condition", "Encounter");
      assertThat(outputTypes(manifest(kickOffs.get(1).jobId())))
          .containsExactly("Condition", "Encounter", "Encounter", "Patient"); // 1,215 Encounters
    }

    @Test
    void acceptsAPostedParametersBody() {
      String parameters = """
          {"resourceType":"Parameters","parameter":[
            {"name":"_type","valueString":"Patient,Device"},
            {"name":"_outputFormat","valueString":"application/fhir+ndjson"},
            {"name":"_since","valueInstant":"2000-01-01T00:00:00Z"}]}""";
      HttpResponse<byte[]> response = send(HttpRequest.newBuilder(uri("$export"))
          .header("Prefer", "respond-async")
          .header("Accept", "application/fhir+json")
          .header("Content-Type", "application/fhir+json")
          .POST(BodyPublishers.ofString(parameters)));

      assertThat(response.statusCode()).isEqualTo(202);
      FakeBulkExportSource.KickOff recorded = source.kickOffs().get(0);
      assertThat(recorded.method()).isEqualTo("POST");
      assertThat(recorded.param("_since")).containsExactly("2000-01-01T00:00:00Z");
      JsonNode manifest = manifest(recorded.jobId());
      // Synthea lines have no meta.lastUpdated: they count as EPOCH, before the _since
      assertThat(manifest.path("output")).isEmpty();
      assertThat(manifest.path("request").asText()).isEqualTo(source.baseUrl() + "/$export");
    }

    @Test
    void answers400WithoutPreferRespondAsync() {
      HttpResponse<byte[]> response = send(HttpRequest.newBuilder(uri("$export"))
          .header("Accept", "application/fhir+json").GET());

      assertThat(response.statusCode()).isEqualTo(400);
      assertThat(header(response, "Content-Type")).startsWith("application/fhir+json");
      assertThat(diagnostics(response))
          .isEqualTo("HAPI-0513: Must request async processing for $export");
      assertThat(source.kickOffs()).singleElement()
          .satisfies(k -> assertThat(k.jobId()).isNull())
          .satisfies(k -> assertThat(k.status()).isEqualTo(400));
      assertThat(source.jobIds()).isEmpty();
    }

    @Test
    void answers400ForBadParametersAsHapiValidatesThem() {
      assertThat(kickOff("$export?_type=Patient,Nonsense").statusCode()).isEqualTo(400);
      assertThat(kickOff("$export?_type=Binary").statusCode()).isEqualTo(400);
      assertThat(kickOff("$export?_outputFormat=text/csv").statusCode()).isEqualTo(400);
      assertThat(kickOff("$export?_since=2020-01-01").statusCode()).isEqualTo(400);
      // an unencoded '+' decodes to a space, as on HAPI
      assertThat(kickOff("$export?_since=2020-01-01T00:00:00+00:00").statusCode())
          .isEqualTo(400);
      assertThat(kickOff("$export?_outputFormat=application/fhir+ndjson").statusCode())
          .isEqualTo(400);

      assertThat(kickOff("$export?_since=" + encode("2020-01-01T00:00:00+00:00")
          + "&_outputFormat=" + encode("application/fhir+ndjson")).statusCode())
          .isEqualTo(202);
      assertThat(kickOff("$export?_outputFormat=ndjson").statusCode()).isEqualTo(202);
    }
  }

  @Nested
  class Polling {

    @Test
    void answers202WithHapisProgressHeadersThenTheManifest() throws IOException {
      String statusUrl = header(kickOff("$export"), "Content-Location");

      HttpResponse<byte[]> inProgress = get(statusUrl);
      assertThat(inProgress.statusCode()).isEqualTo(202);
      assertThat(inProgress.body()).isEmpty();
      assertThat(header(inProgress, "Content-Length")).isEqualTo("0");
      assertThat(header(inProgress, "Retry-After")).isEqualTo("120");
      assertThat(header(inProgress, "X-Progress"))
          .matches("Build in progress - Status set to QUEUED at " + HAPI_INSTANT);

      HttpResponse<byte[]> done = get(statusUrl);
      assertThat(done.statusCode()).isEqualTo(200);
      assertThat(header(done, "Content-Type")).isEqualTo("application/json;charset=ISO-8859-1");
      JsonNode manifest = JSON.readTree(done.body());
      assertThat(fieldNames(manifest))
          .containsExactly("transactionTime", "request", "requiresAccessToken", "output", "error");
      assertThat(manifest.path("transactionTime").asText()).matches(HAPI_INSTANT);
      assertThat(manifest.path("request").asText()).isEqualTo(source.baseUrl() + "/$export");
      assertThat(manifest.path("requiresAccessToken").asBoolean()).isTrue();
      assertThat(manifest.path("error").isArray()).isTrue();
      assertThat(manifest.path("error")).isEmpty();
      assertThat(manifest.path("output")).isNotEmpty().allSatisfy(entry -> {
        assertThat(fieldNames(entry)).containsExactly("type", "url"); // no count, as HAPI
        assertThat(entry.path("url").asText())
            .matches(quote(source.baseUrl()) + "/Binary/[A-Za-z0-9]{32}");
      });

      assertThat(source.polls()).extracting(FakeBulkExportSource.Poll::status)
          .containsExactly(202, 200);
      assertThat(source.pollCount()).isEqualTo(2);
    }

    @Test
    void staysInProgressForTheConfiguredPollsWithTheConfiguredRetryAfter() {
      source.setPollsUntilComplete(3);
      source.setRetryAfter("1");
      String statusUrl = header(kickOff("$export?_type=Patient"), "Content-Location");

      List<String> progress = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        HttpResponse<byte[]> response = get(statusUrl);
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(header(response, "Retry-After")).isEqualTo("1");
        progress.add(header(response, "X-Progress").replaceAll(" at .*", ""));
      }
      assertThat(progress).containsExactly("Build in progress - Status set to QUEUED",
          "Build in progress - Status set to IN_PROGRESS",
          "Build in progress - Status set to IN_PROGRESS");
      assertThat(get(statusUrl).statusCode()).isEqualTo(200);
    }

    @Test
    void staysInProgressUntilTheMinimumDurationPassed() {
      source.setPollsUntilComplete(0);
      source.setMinJobDuration(Duration.ofHours(1));
      String statusUrl = header(kickOff("$export?_type=Patient"), "Content-Location");
      assertThat(get(statusUrl).statusCode()).isEqualTo(202);

      source.setMinJobDuration(Duration.ZERO); // knobs are live
      assertThat(get(statusUrl).statusCode()).isEqualTo(200);
    }

    @Test
    void rendersTheManifestByteForByteAsTheCapturedHapiOne() throws IOException {
      JsonNode capture = JSON.readTree(WIRE.resolve("10-export-manifest.json").toFile());
      JsonNode body = capture.path("body");
      List<Map.Entry<String, String>> output = new ArrayList<>();
      body.path("output").forEach(e -> output.add(Map.entry(e.path("type").asText(),
          e.path("url").asText())));

      byte[] rendered = FakeBulkExportSource.manifest(
          OffsetDateTime.parse(body.path("transactionTime").asText()).toInstant(),
          body.path("request").asText(), output, List.of(), List.of(), null);

      assertThat(rendered.length)
          .isEqualTo(capture.path("headers").path("Content-Length").asInt()); // 522
      assertThat(JSON.readTree(rendered)).isEqualTo(body);
      assertThat(new String(rendered, StandardCharsets.ISO_8859_1))
          .startsWith("{\n  \"transactionTime\" : \"2026-11-22T16:26:03.917+00:00\",\n")
          .contains("\"output\" : [ {\n    \"type\" : \"Group\",")
          .endsWith("} ],\n  \"error\" : [ ]\n}");
    }

    @Test
    void addsHapisMessageFieldWhenConfigured() {
      source.setManifestMessage("Export complete");

      JsonNode manifest = manifest(kickOffJob("$export?_type=Patient"));

      assertThat(manifest.path("message").asText()).isEqualTo("Export complete");
    }

    @Test
    void answers404ForAnUnknownJob() {
      HttpResponse<byte[]> response =
          get(source.baseUrl() + "/$export-poll-status?_jobId=no-such-job");

      assertThat(response.statusCode()).isEqualTo(404);
      assertThat(diagnostics(response)).contains("Unknown instance ID: no-such-job");
    }

    @Test
    void answers500WithAnOperationOutcomeForAFailedJob() {
      source.failJobs("Export failed: disk full");
      String jobId = kickOffJob("$export");
      String statusUrl = statusUrl(jobId);

      assertThat(get(statusUrl).statusCode()).isEqualTo(202);
      HttpResponse<byte[]> failed = get(statusUrl);
      assertThat(failed.statusCode()).isEqualTo(500);
      assertThat(diagnostics(failed)).isEqualTo("Export failed: disk full");
      assertThat(source.jobState(jobId)).contains(FakeBulkExportSource.JobState.FAILED);
    }
  }

  @Nested
  class Downloads {

    @Test
    void servesTheBinaryResourceForAFhirAcceptAndRawNdjsonOtherwise() throws IOException {
      String url = outputUrls(manifest(kickOffJob("$export?_type=Patient"))).get(0);

      HttpResponse<byte[]> wrapped = get(url, "Accept", "application/fhir+json");
      HttpResponse<byte[]> raw = get(url, "Accept", RAW);
      HttpResponse<byte[]> anything = get(url, "Accept", "*/*");
      HttpResponse<byte[]> noAccept = get(url);

      assertThat(wrapped.statusCode()).isEqualTo(200);
      assertThat(header(wrapped, "Content-Type")).startsWith("application/fhir+json");
      JsonNode binary = JSON.readTree(wrapped.body());
      assertThat(binary.path("resourceType").asText()).isEqualTo("Binary");
      assertThat(binary.path("id").asText()).isEqualTo(url.substring(url.lastIndexOf('/') + 1));
      assertThat(binary.path("contentType").asText()).isEqualTo("application/fhir+ndjson");
      byte[] decoded = Base64.getDecoder().decode(binary.path("data").asText());

      for (HttpResponse<byte[]> response : List.of(raw, anything, noAccept)) {
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(header(response, "Content-Type")).isEqualTo("application/fhir+ndjson");
        assertThat(header(response, "Content-Disposition")).isEqualTo("Attachment;");
        assertThat(response.body()).isEqualTo(decoded);
      }
      assertThat(decoded).isEqualTo(datasetBytes("Patient"));
      assertThat(header(raw, "Content-Length")).isEqualTo(Integer.toString(decoded.length));

      assertThat(source.downloads())
          .extracting(FakeBulkExportSource.Download::binaryResource)
          .containsExactly(true, false, false, false);
      assertThat(source.downloads().get(0).accept()).isEqualTo("application/fhir+json");
      assertThat(source.downloads().get(1).accept()).isEqualTo(RAW);
    }

    @Test
    void servesAllResourcesOfTheDatasetInFilesOfAtMost1000() throws IOException {
      JsonNode manifest = manifest(kickOffJob("$export"));

      Map<String, ByteArrayOutputStream> byType = new LinkedHashMap<>();
      int lines = 0;
      for (JsonNode entry : manifest.path("output")) {
        byte[] body = get(entry.path("url").asText(), "Accept", RAW).body();
        int fileLines = countLines(body);
        assertThat(fileLines).isBetween(1, 1000);
        lines += fileLines;
        byType.computeIfAbsent(entry.path("type").asText(), t -> new ByteArrayOutputStream())
            .write(body);
      }

      assertThat(lines).isEqualTo(7160);
      assertThat(byType.keySet()).hasSize(13).doesNotContain("Observation", "DiagnosticReport");
      for (Map.Entry<String, ByteArrayOutputStream> type : byType.entrySet()) {
        assertThat(type.getValue().toByteArray())
            .as(type.getKey()).isEqualTo(datasetBytes(type.getKey()));
      }
      assertThat(outputTypes(manifest).stream().filter("Procedure"::equals)).hasSize(3);
      assertThat(manifest.path("output")).hasSize(18);
      assertThat(source.resourceCounts()).containsEntry("Procedure", 2056).hasSize(13);
      assertThat(source.totalResources()).isEqualTo(7160);
      assertThat(source.downloads()).hasSize(18)
          .allSatisfy(d -> assertThat(d.bytesServed()).isEqualTo(d.plannedBytes()));
    }

    @Test
    void filtersByType() {
      JsonNode manifest = manifest(kickOffJob("$export?_type=Patient,Condition"));

      assertThat(outputTypes(manifest)).containsExactly("Condition", "Patient");
      assertThat(countLines(download(manifest, "Patient"))).isEqualTo(13);
      assertThat(countLines(download(manifest, "Condition"))).isEqualTo(555);
    }

    @Test
    void splitsFilesAtTheConfiguredCapacity() {
      source.setMaxResourcesPerFile(5);

      JsonNode manifest = manifest(kickOffJob("$export?_type=Patient"));

      assertThat(outputTypes(manifest)).containsExactly("Patient", "Patient", "Patient");
      assertThat(download(manifest, "Patient")).isEqualTo(datasetBytes("Patient"));
    }

    @Test
    void answers404ForAnUnknownFile() {
      HttpResponse<byte[]> response = get(source.baseUrl() + "/Binary/nope", "Accept", RAW);

      assertThat(response.statusCode()).isEqualTo(404);
      assertThat(source.downloads()).singleElement()
          .satisfies(d -> assertThat(d.status()).isEqualTo(404));
    }

    @Test
    void gzipsWhenEnabledAndAsked() throws IOException {
      source.setGzip(true);
      String url = outputUrls(manifest(kickOffJob("$export?_type=Condition"))).get(0);

      HttpResponse<byte[]> zipped = get(url, "Accept", RAW, "Accept-Encoding", "gzip");
      HttpResponse<byte[]> plain = get(url, "Accept", RAW);

      assertThat(header(zipped, "Content-Encoding")).isEqualTo("gzip");
      assertThat(zipped.body().length).isLessThan(plain.body().length);
      try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(zipped.body()))) {
        assertThat(in.readAllBytes()).isEqualTo(plain.body());
      }
      assertThat(header(plain, "Content-Encoding")).isNull();
      assertThat(source.downloads()).extracting(FakeBulkExportSource.Download::gzipped)
          .containsExactly(true, false);
    }
  }

  @Nested
  class Since {

    @Test
    void exportsOnlyWhatChangedAndListsDeletionsInADeletedFile() throws IOException {
      JsonNode first = manifest(kickOffJob("$export"));
      Instant since = OffsetDateTime.parse(first.path("transactionTime").asText()).toInstant();
      List<String> patients = source.ids("Patient");
      String conditionId = source.ids("Condition").get(0);

      Instant updated = source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\""
          + patients.get(0) + "\",\"active\":false}");
      source.put("Observation", "{\"resourceType\":\"Observation\",\"id\":\"obs-1\","
          + "\"status\":\"final\",\"code\":{\"text\":\"x\"}}");
      Instant deleted = source.delete("Condition", conditionId);
      assertThat(updated).isAfter(since);

      JsonNode second = manifest(kickOffJob("$export?_since="
          + encode(first.path("transactionTime").asText())));

      assertThat(outputTypes(second)).containsExactly("Observation", "Patient");
      JsonNode patient = JSON.readTree(download(second, "Patient"));
      assertThat(patient.path("id").asText()).isEqualTo(patients.get(0));
      assertThat(patient.path("active").asBoolean(true)).isFalse();
      assertThat(OffsetDateTime.parse(patient.path("meta").path("lastUpdated").asText())
          .toInstant()).isEqualTo(updated);
      assertThat(fieldNames(patient)).startsWith("resourceType", "id", "meta");
      assertThat(countLines(download(second, "Observation"))).isEqualTo(1);

      assertThat(second.path("deleted")).singleElement().satisfies(entry -> {
        assertThat(entry.path("type").asText()).isEqualTo("Bundle");
        assertThat(entry.path("url").asText()).matches(quote(source.baseUrl()) + "/Binary/.{32}");
      });
      List<String> deletedLines = lines(get(second.path("deleted").get(0).path("url").asText(),
          "Accept", RAW).body());
      assertThat(deletedLines).hasSize(1);
      JsonNode bundle = JSON.readTree(deletedLines.get(0));
      assertThat(bundle.path("resourceType").asText()).isEqualTo("Bundle");
      assertThat(bundle.path("type").asText()).isEqualTo("transaction");
      assertThat(OffsetDateTime.parse(bundle.path("meta").path("lastUpdated").asText())
          .toInstant()).isEqualTo(deleted);
      assertThat(bundle.path("entry")).singleElement().satisfies(entry -> {
        assertThat(fieldNames(entry)).containsExactly("request");
        assertThat(entry.path("request").path("method").asText()).isEqualTo("DELETE");
        assertThat(entry.path("request").path("url").asText())
            .isEqualTo("Condition/" + conditionId);
      });

      // a full export: the replacement in place, the deletion gone, no deleted file
      JsonNode full = manifest(kickOffJob("$export?_type=Patient,Condition,Observation"));
      assertThat(full.has("deleted")).isFalse();
      assertThat(lines(download(full, "Patient"))).hasSize(13);
      assertThat(JSON.readTree(lines(download(full, "Patient")).get(0)).path("id").asText())
          .isEqualTo(patients.get(0));
      assertThat(countLines(download(full, "Condition"))).isEqualTo(554);
      assertThat(source.resourceCounts()).containsEntry("Observation", 1)
          .containsEntry("Condition", 554);
    }

    @Test
    void isInclusiveAndExcludesChangesMadeAfterTheKickOff() {
      Instant at = source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"new\"}");
      String jobId = kickOffJob("$export?_type=Patient&_since=" + encode(at.toString()));
      source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"later\"}");

      assertThat(lines(download(manifest(jobId), "Patient"))).singleElement()
          .satisfies(line -> assertThat(line).contains("\"id\":\"new\""));
    }

    @Test
    void treatsUndatedLinesAsChangedWhenConfigured() {
      source.setUndatedLastUpdated(Instant.MAX);

      JsonNode manifest = manifest(kickOffJob("$export?_type=Patient&_since="
          + encode("2030-01-01T00:00:00Z")));

      assertThat(countLines(download(manifest, "Patient"))).isEqualTo(13);
    }

    @Test
    void groupsDeletionsAndCanLeaveThemOut() throws IOException {
      source.delete("Patient", "a");
      source.delete("Patient", "b");
      source.delete("Device", "c");
      source.setDeletedEntriesPerBundle(10);
      String since = encode("2000-01-01T00:00:00Z");

      JsonNode grouped = manifest(kickOffJob("$export?_type=Patient,Device&_since=" + since));
      List<String> bundles = lines(get(grouped.path("deleted").get(0).path("url").asText(),
          "Accept", RAW).body());
      assertThat(bundles).hasSize(1);
      assertThat(JSON.readTree(bundles.get(0)).path("entry"))
          .extracting(e -> e.path("request").path("url").asText())
          .containsExactly("Device/c", "Patient/a", "Patient/b");

      assertThat(manifest(kickOffJob("$export?_type=Device&_since=" + since)).path("deleted"))
          .hasSize(1);
      assertThat(manifest(kickOffJob("$export?_type=Condition&_since=" + since)).has("deleted"))
          .isFalse();
      source.setReportDeletions(false); // as real HAPI 8.8.0
      assertThat(manifest(kickOffJob("$export?_since=" + since)).has("deleted")).isFalse();
    }

    @Test
    void servesAnotherDataset(@TempDir Path dir) throws IOException {
      Files.writeString(dir.resolve("Patient.000.ndjson"),
          "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"meta\":{\"lastUpdated\":"
              + "\"2024-05-01T10:00:00.000+00:00\"}}\r\n"
              + "{\"resourceType\":\"Patient\",\"id\":\"p2\",\"meta\":{\"lastUpdated\":"
              + "\"2020-05-01T10:00:00Z\"}}");
      source.useDataset(dir);

      JsonNode all = manifest(kickOffJob("$export"));
      JsonNode recent = manifest(kickOffJob("$export?_since=" + encode("2024-01-01T00:00:00Z")));

      assertThat(lines(download(all, "Patient"))).hasSize(2);
      assertThat(lines(download(recent, "Patient"))).singleElement()
          .satisfies(line -> assertThat(line).contains("\"p1\""));
      assertThat(source.ids("Patient")).containsExactly("p1", "p2");
    }
  }

  @Nested
  class Errors {

    @Test
    void listsAnErrorFileOfOperationOutcomes() throws IOException {
      source.addError("Could not export Observation/1");
      source.addError("Could not export Observation/2");

      JsonNode manifest = manifest(kickOffJob("$export?_type=Patient"));

      assertThat(manifest.path("error")).singleElement().satisfies(entry -> {
        assertThat(entry.path("type").asText()).isEqualTo("OperationOutcome");
      });
      List<String> outcomes = lines(get(manifest.path("error").get(0).path("url").asText(),
          "Accept", RAW).body());
      assertThat(outcomes).hasSize(2);
      JsonNode outcome = JSON.readTree(outcomes.get(1));
      assertThat(outcome.path("resourceType").asText()).isEqualTo("OperationOutcome");
      assertThat(outcome.path("issue").get(0).path("diagnostics").asText())
          .isEqualTo("Could not export Observation/2");
    }
  }

  @Nested
  class Cancel {

    @Test
    void deleteCancelsARunningJobAndLaterPollsAnswer404() {
      String jobId = kickOffJob("$export");

      HttpResponse<byte[]> cancelled = delete(statusUrl(jobId));
      HttpResponse<byte[]> poll = get(statusUrl(jobId));

      assertThat(cancelled.statusCode()).isEqualTo(202);
      assertThat(diagnostics(cancelled)).contains("successfully submitted for cancellation");
      assertThat(poll.statusCode()).isEqualTo(404);
      assertThat(header(poll, "Content-Type")).startsWith("application/fhir+json");
      assertThat(source.cancellations()).singleElement()
          .satisfies(c -> assertThat(c.jobId()).isEqualTo(jobId))
          .satisfies(c -> assertThat(c.status()).isEqualTo(202));
      assertThat(source.jobState(jobId)).contains(FakeBulkExportSource.JobState.CANCELLED);
    }

    @Test
    void pollsACancelledJobFor202ForEverWithHapisQuirk() {
      source.setHapiCancelQuirk(true);
      String jobId = kickOffJob("$export");
      delete(statusUrl(jobId));

      for (int i = 0; i < 3; i++) {
        HttpResponse<byte[]> poll = get(statusUrl(jobId));
        assertThat(poll.statusCode()).isEqualTo(202);
        assertThat(header(poll, "X-Progress")).contains("Status set to CANCELLED");
      }
    }

    @Test
    void deleteOfACompletedJobAnswers404AsHapiAndKeepsTheFiles() {
      String jobId = kickOffJob("$export?_type=Patient");
      JsonNode manifest = manifest(jobId);

      HttpResponse<byte[]> response = delete(statusUrl(jobId));

      assertThat(response.statusCode()).isEqualTo(404);
      assertThat(diagnostics(response)).contains("was already cancelled or has completed");
      assertThat(get(outputUrls(manifest).get(0), "Accept", RAW).statusCode()).isEqualTo(200);
      assertThat(source.cancellations()).singleElement()
          .satisfies(c -> assertThat(c.status()).isEqualTo(404));
    }
  }

  @Nested
  class Expiry {

    @Test
    void anExpiredExportAnswers404ToPollsAndDownloads() {
      String jobId = kickOffJob("$export?_type=Patient");
      JsonNode manifest = manifest(jobId);

      source.expireJobs();

      HttpResponse<byte[]> poll = get(statusUrl(jobId));
      assertThat(poll.statusCode()).isEqualTo(404);
      assertThat(diagnostics(poll)).contains("Unknown instance ID");
      assertThat(get(outputUrls(manifest).get(0), "Accept", RAW).statusCode()).isEqualTo(404);
      assertThat(source.jobIds()).isEmpty();
      assertThat(source.totalResources()).as("the data stays").isEqualTo(7_160);
    }
  }

  @Nested
  class FailureInjection {

    @Test
    void failsKickOffsPollsAndDownloadsWithRetryAfter() {
      source.failNextKickOffs(1, 429);
      HttpResponse<byte[]> refused = kickOff("$export?_type=Patient");
      assertThat(refused.statusCode()).isEqualTo(429);
      assertThat(header(refused, "Retry-After")).isEqualTo("1");

      String statusUrl = header(kickOff("$export?_type=Patient"), "Content-Location");
      source.failNextPolls(2, 503);
      for (int i = 0; i < 2; i++) {
        HttpResponse<byte[]> failed = get(statusUrl);
        assertThat(failed.statusCode()).isEqualTo(503);
        assertThat(header(failed, "Retry-After")).isEqualTo("1");
      }
      // failed polls do not advance the job
      assertThat(header(get(statusUrl), "X-Progress")).contains("QUEUED");
      HttpResponse<byte[]> done = get(statusUrl);
      assertThat(done.statusCode()).isEqualTo(200);

      String url = outputUrls(readTree(done.body())).get(0);
      source.failNextDownloads(1, 503);
      HttpResponse<byte[]> failedDownload = get(url, "Accept", RAW);
      assertThat(failedDownload.statusCode()).isEqualTo(503);
      assertThat(header(failedDownload, "Retry-After")).isEqualTo("1");
      assertThat(get(url, "Accept", RAW).body()).isEqualTo(datasetBytes("Patient"));

      assertThat(source.kickOffs()).extracting(FakeBulkExportSource.KickOff::status)
          .containsExactly(429, 202);
      assertThat(source.polls()).extracting(FakeBulkExportSource.Poll::status)
          .containsExactly(503, 503, 202, 200);
      assertThat(source.downloads()).extracting(FakeBulkExportSource.Download::status)
          .containsExactly(503, 200);
    }

    @Test
    void cutsADownloadOffMidStreamAndResumesWithRangeWhenEnabled() {
      source.setRangeRequests(true);
      String url = outputUrls(manifest(kickOffJob("$export?_type=Condition"))).get(0);
      source.cutNextDownloads(1, 100_000);

      assertThatThrownBy(() -> HTTP.send(HttpRequest.newBuilder(URI.create(url))
          .header("Accept", RAW).GET().build(), BodyHandlers.ofByteArray()))
          .isInstanceOf(IOException.class);

      HttpResponse<byte[]> rest = get(url, "Accept", RAW, "Range", "bytes=100000-");
      byte[] expected = datasetBytes("Condition");
      assertThat(rest.statusCode()).isEqualTo(206);
      assertThat(header(rest, "Content-Range"))
          .isEqualTo("bytes 100000-" + (expected.length - 1) + "/" + expected.length);
      assertThat(rest.body()).isEqualTo(Arrays.copyOfRange(expected, 100_000, expected.length));

      List<FakeBulkExportSource.Download> downloads = source.downloads();
      assertThat(downloads.get(0).cut()).isTrue();
      assertThat(downloads.get(0).bytesServed()).isEqualTo(100_000);
      assertThat(downloads.get(0).plannedBytes()).isEqualTo(expected.length);
      assertThat(downloads.get(1).cut()).isFalse();
      assertThat(downloads.get(1).range()).isEqualTo("bytes=100000-");
    }

    @Test
    void ignoresRangeByDefaultAsHapi() {
      String url = outputUrls(manifest(kickOffJob("$export?_type=Patient"))).get(0);

      HttpResponse<byte[]> response = get(url, "Accept", RAW, "Range", "bytes=10-");

      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.body()).isEqualTo(datasetBytes("Patient"));
    }

    @Test
    void goesDownAndComesBackOnTheSamePort() {
      String jobId = kickOffJob("$export?_type=Patient");
      source.goDown();
      assertThatThrownBy(() -> HTTP.send(HttpRequest.newBuilder(URI.create(statusUrl(jobId)))
          .GET().build(), BodyHandlers.ofByteArray()))
          .isInstanceOf(ConnectException.class);

      source.comeBack();

      assertThat(source.isUp()).isTrue();
      assertThat(manifest(jobId).path("output")).hasSize(1);
    }
  }

  @Nested
  class Auth {

    @Test
    void requiresTheBearerTokenOnEveryRequestIncludingDownloads() {
      source.requireToken("s3cret");
      String bearer = "Bearer s3cret";

      HttpResponse<byte[]> refused = kickOff("$export?_type=Patient");
      assertThat(refused.statusCode()).isEqualTo(401);
      assertThat(header(refused, "WWW-Authenticate")).isEqualTo("Bearer");

      HttpResponse<byte[]> accepted = send(HttpRequest.newBuilder(uri("$export?_type=Patient"))
          .header("Prefer", "respond-async").header("Accept", "application/fhir+json")
          .header("Authorization", bearer).GET());
      String statusUrl = header(accepted, "Content-Location");
      assertThat(get(statusUrl).statusCode()).isEqualTo(401);
      assertThat(get(statusUrl, "Authorization", bearer).statusCode()).isEqualTo(202);
      HttpResponse<byte[]> done = get(statusUrl, "Authorization", bearer);
      JsonNode manifest = readTree(done.body());
      assertThat(manifest.path("requiresAccessToken").asBoolean()).isTrue();
      String url = outputUrls(manifest).get(0);

      assertThat(get(url, "Accept", RAW).statusCode()).isEqualTo(401);
      assertThat(get(url, "Accept", RAW, "Authorization", "Bearer wrong").statusCode())
          .isEqualTo(401);
      assertThat(get(url, "Accept", RAW, "Authorization", bearer).statusCode()).isEqualTo(200);

      assertThat(source.downloads()).extracting(FakeBulkExportSource.Download::authorization)
          .containsExactly(null, "Bearer wrong", bearer);
      assertThat(source.downloads()).extracting(FakeBulkExportSource.Download::status)
          .containsExactly(401, 401, 200);
      assertThat(source.polls()).extracting(FakeBulkExportSource.Poll::authorization)
          .containsExactly(null, bearer, bearer);
      assertThat(source.kickOffs()).extracting(k -> k.header("Authorization"))
          .containsExactly(null, bearer);
    }
  }

  @Test
  void resetForgetsEverything() {
    source.setPollsUntilComplete(5);
    source.requireToken("x");
    source.put("Patient", "{\"resourceType\":\"Patient\",\"id\":\"extra\"}");
    kickOff("$export");

    source.reset();

    assertThat(source.kickOffs()).isEmpty();
    assertThat(source.jobIds()).isEmpty();
    assertThat(source.ids("Patient")).hasSize(13).doesNotContain("extra");
    assertThat(get(statusUrl(kickOffJob("$export?_type=Patient"))).statusCode()).isEqualTo(202);
  }

  // ---------------------------------------------------------------- helpers

  private static URI uri(String pathAndQuery) {
    return URI.create(source.baseUrl() + "/" + pathAndQuery);
  }

  private static HttpResponse<byte[]> send(HttpRequest.Builder request) {
    try {
      return HTTP.send(request.timeout(Duration.ofSeconds(10)).build(),
          BodyHandlers.ofByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static HttpResponse<byte[]> kickOff(String pathAndQuery) {
    return send(HttpRequest.newBuilder(uri(pathAndQuery))
        .header("Prefer", "respond-async")
        .header("Accept", "application/fhir+json")
        .GET());
  }

  private static String kickOffJob(String pathAndQuery) {
    HttpResponse<byte[]> response = kickOff(pathAndQuery);
    assertThat(response.statusCode()).as(new String(response.body())).isEqualTo(202);
    String location = header(response, "Content-Location");
    return location.substring(location.indexOf("_jobId=") + "_jobId=".length());
  }

  private static String statusUrl(String jobId) {
    return source.baseUrl() + "/$export-poll-status?_jobId=" + jobId;
  }

  /** Polls (ignoring Retry-After) until the manifest comes. */
  private static JsonNode manifest(String jobId) {
    for (int i = 0; i < 20; i++) {
      HttpResponse<byte[]> response = get(statusUrl(jobId));
      if (response.statusCode() == 200) {
        return readTree(response.body());
      }
      assertThat(response.statusCode()).isEqualTo(202);
    }
    throw new AssertionError("No manifest after 20 polls");
  }

  private static HttpResponse<byte[]> get(String url, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).GET();
    if (headers.length > 0) {
      request.headers(headers);
    }
    return send(request);
  }

  private static HttpResponse<byte[]> delete(String url) {
    return send(HttpRequest.newBuilder(URI.create(url)).DELETE());
  }

  private static String header(HttpResponse<?> response, String name) {
    return response.headers().firstValue(name).orElse(null);
  }

  private static String diagnostics(HttpResponse<byte[]> response) {
    JsonNode outcome = readTree(response.body());
    assertThat(outcome.path("resourceType").asText()).isEqualTo("OperationOutcome");
    return outcome.path("issue").get(0).path("diagnostics").asText();
  }

  private static JsonNode readTree(byte[] body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static List<String> outputTypes(JsonNode manifest) {
    List<String> types = new ArrayList<>();
    manifest.path("output").forEach(entry -> types.add(entry.path("type").asText()));
    return types;
  }

  private static List<String> outputUrls(JsonNode manifest) {
    List<String> urls = new ArrayList<>();
    manifest.path("output").forEach(entry -> urls.add(entry.path("url").asText()));
    return urls;
  }

  /** The raw bodies of all output files of {@code type}, concatenated. */
  private static byte[] download(JsonNode manifest, String type) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (JsonNode entry : manifest.path("output")) {
      if (entry.path("type").asText().equals(type)) {
        HttpResponse<byte[]> response = get(entry.path("url").asText(), "Accept", RAW);
        assertThat(response.statusCode()).isEqualTo(200);
        all.writeBytes(response.body());
      }
    }
    return all.toByteArray();
  }

  private static List<String> lines(byte[] ndjson) {
    return new String(ndjson, StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
  }

  private static int countLines(byte[] ndjson) {
    return lines(ndjson).size();
  }

  private static byte[] datasetBytes(String type) {
    try (Stream<Path> files = Files.list(FakeBulkExportSource.SYNTHEA_10)) {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      for (Path file : files.filter(f -> f.getFileName().toString().startsWith(type + "."))
          .sorted().toList()) {
        all.writeBytes(Files.readAllBytes(file));
      }
      return all.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private static String quote(String text) {
    return java.util.regex.Pattern.quote(text);
  }
}
