package org.pathlingrelay.backfill;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.http.Header;
import org.apache.http.HttpResponse;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.util.EntityUtils;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.CodeType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.UrlType;
import org.pathlingrelay.http.RetryAfter;
import org.pathlingrelay.source.BulkExportClient;

/**
 * Pathling's bulk loads: {@code $import} of staged NDJSON files and {@code $import-pnp} (Pathling
 * exports from the source itself), both asynchronous, polled at their {@code $job} URL. Shapes as
 * Pathling's server code requires them: {@code valueCode} for types and modes, {@code valueUrl}
 * for URLs, {@code Prefer: respond-async}, and an {@code Accept} Pathling matches literally.
 */
final class PathlingImportClient implements AutoCloseable {

  /** A file Pathling can read: its type and the URL Pathling sees it at. */
  record StagedFile(String type, String url) {}

  /** Pathling refused or failed a load; not worth repeating as it is. */
  static final class ImportFailedException extends RuntimeException {
    ImportFailedException(String message) {
      super(message);
    }
  }

  private final FhirContext fhirContext;
  private final URI base;
  private final org.pathlingrelay.auth.AccessTokens tokens;
  private final BulkExportClient.Pause pause;
  private final Duration pollFloor;
  private final Duration pollCap;
  private final CloseableHttpClient http;

  PathlingImportClient(
      FhirContext fhirContext,
      String pathlingUrl,
      org.pathlingrelay.auth.AccessTokens tokens,
      Duration timeout,
      BulkExportClient.Pause pause,
      Duration pollFloor,
      Duration pollCap) {
    this.fhirContext = fhirContext;
    this.base = URI.create(pathlingUrl.endsWith("/") ? pathlingUrl : pathlingUrl + "/");
    this.tokens = tokens;
    this.pause = pause;
    this.pollFloor = pollFloor;
    this.pollCap = pollCap;
    int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
    this.http = HttpClients.custom()
        .setDefaultRequestConfig(RequestConfig.custom()
            .setConnectTimeout(Math.min(millis, 30_000)).setSocketTimeout(millis).build())
        .setUserAgent("pathling-relay")
        .build();
  }

  URI kickOffImport(List<StagedFile> files, String saveMode) {
    Parameters parameters = new Parameters();
    for (StagedFile file : files) {
      Parameters.ParametersParameterComponent input = parameters.addParameter().setName("input");
      input.addPart().setName("resourceType").setValue(new CodeType(file.type()));
      input.addPart().setName("url").setValue(new UrlType(file.url()));
    }
    parameters.addParameter().setName("saveMode").setValue(new CodeType(saveMode));
    parameters.addParameter().setName("inputFormat").setValue(new CodeType("application/fhir+ndjson"));
    return kickOff("$import", parameters);
  }

  URI kickOffPnp(String sourceBaseUrl, String saveMode, List<String> types, Optional<Instant> since) {
    Parameters parameters = new Parameters();
    parameters.addParameter().setName("exportUrl").setValue(new UrlType(sourceBaseUrl));
    parameters.addParameter().setName("saveMode").setValue(new CodeType(saveMode));
    // One _type per type, as the Bulk Data IG's Parameters kick-off lists them.
    for (String type : types) {
      parameters.addParameter().setName("_type").setValue(new StringType(type));
    }
    since.ifPresent(instant -> parameters.addParameter().setName("_since").setValue(new InstantType(java.util.Date.from(instant))));
    return kickOff("$import-pnp", parameters);
  }

  private URI kickOff(String operation, Parameters parameters) {
    HttpPost post = new HttpPost(base.resolve(operation));
    post.setHeader("Prefer", "respond-async");
    // Pathling compares Accept literally: HAPI's usual q-value list would be refused.
    post.setHeader("Accept", "application/fhir+json");
    authorize(post);
    post.setEntity(new StringEntity(
        fhirContext.newJsonParser().encodeResourceToString(parameters),
        ContentType.create("application/fhir+json", StandardCharsets.UTF_8)));
    try (CloseableHttpResponse response = http.execute(post)) {
      int status = response.getStatusLine().getStatusCode();
      String body = bodyOf(response);
      if (status != 202) {
        throw new ImportFailedException("Pathling refused " + operation + " with " + status + ": " + diagnostics(body));
      }
      Header location = response.getFirstHeader("Content-Location");
      if (location == null) {
        throw new ImportFailedException("Pathling accepted " + operation + " but sent no Content-Location");
      }
      return base.resolve(location.getValue());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("Pathling did not answer " + operation + ": " + e.getMessage(), e);
    }
  }

  /** Polls a job until it ends; throws when it failed. Returns the job's result. */
  Parameters awaitJob(URI jobUrl, Consumer<String> progress) throws InterruptedException {
    int transientFailures = 0;
    while (true) {
      HttpGet get = new HttpGet(jobUrl);
      get.setHeader("Accept", "application/fhir+json");
      authorize(get);
      Duration wait = pollFloor;
      try (CloseableHttpResponse response = http.execute(get)) {
        int status = response.getStatusLine().getStatusCode();
        String body = bodyOf(response);
        if (status == 200) {
          IBaseResource result = parse(body);
          return result instanceof Parameters parameters ? parameters : new Parameters();
        }
        if (status == 202) {
          Optional.ofNullable(response.getFirstHeader("X-Progress")).map(Header::getValue).ifPresent(progress);
          wait = retryAfter(response).orElse(pollFloor);
        } else if (status == 401 && get.getFirstHeader("Authorization") != null && ++transientFailures < 10) {
          tokens.invalidate(get.getFirstHeader("Authorization").getValue().substring("Bearer ".length()));
        } else if ((status == 429 || status == 503) && ++transientFailures < 10) {
          wait = retryAfter(response).orElse(pollFloor.multipliedBy(1L << Math.min(transientFailures, 6)));
        } else {
          throw new ImportFailedException("The Pathling job at " + jobUrl + " failed with " + status + ": " + diagnostics(body));
        }
      } catch (IOException e) {
        if (++transientFailures >= 10) {
          throw new java.io.UncheckedIOException("Pathling stopped answering about " + jobUrl, e);
        }
        wait = pollFloor.multipliedBy(1L << Math.min(transientFailures, 6));
      }
      pause.pause(wait.compareTo(pollFloor) < 0 ? pollFloor : wait.compareTo(pollCap) > 0 ? pollCap : wait);
    }
  }

  private IBaseResource parse(String body) {
    try {
      return body.isBlank() ? new Parameters() : fhirContext.newJsonParser().parseResource(body);
    } catch (DataFormatException e) {
      return new Parameters();
    }
  }

  private String diagnostics(String body) {
    if (parse(body) instanceof OperationOutcome outcome && outcome.hasIssue()) {
      return outcome.getIssueFirstRep().getDiagnostics();
    }
    return body.length() > 300 ? body.substring(0, 300) + "..." : body;
  }

  private void authorize(HttpRequestBase request) {
    tokens.token().ifPresent(t -> request.setHeader("Authorization", "Bearer " + t));
  }

  private static String bodyOf(HttpResponse response) throws IOException {
    return response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
  }

  private static Optional<Duration> retryAfter(HttpResponse response) {
    Header header = response.getFirstHeader("Retry-After");
    return header == null ? Optional.empty() : RetryAfter.parse(header.getValue(), java.time.Instant.now());
  }


  @Override
  public void close() throws IOException {
    http.close();
  }
}
