package org.pathlingrelay.pathling;

import ca.uhn.fhir.parser.DataFormatException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.http.Header;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.CodeType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.UrlType;
import org.pathlingrelay.http.Pause;

/**
 * Pathling's bulk loads: {@code $import} of staged NDJSON files and {@code $import-pnp} (Pathling
 * exports from the source itself), both asynchronous, polled at their {@code $job} URL. Shapes as
 * Pathling's server code requires them: {@code valueCode} for types and modes, {@code valueUrl}
 * for URLs, {@code Prefer: respond-async}, and an {@code Accept} Pathling matches literally.
 *
 * <p>Kick-offs and polls pass the server's Retry and circuit breaker, as the forwarder's writes
 * do: a Pathling that is unreachable, throttles (429) or is unavailable (503) is retried with
 * back-off and its {@code Retry-After}, and counts against its health for the forwarder too.
 */
public final class PathlingImportClient {

  /** A file Pathling can read: its type and the URL Pathling sees it at. */
  public record StagedFile(String type, String url) {}

  /** Pathling refused or failed a load; not worth repeating as it is. */
  public static final class ImportFailedException extends RuntimeException {
    ImportFailedException(String message) {
      super(message);
    }
  }

  /**
   * Calls in a row that fail, each after the Retry's attempts or refused by the open breaker,
   * before a load gives up waiting for Pathling; between them it waits the poll cap. A job keeps
   * running in Pathling meanwhile: the journal keeps its URL, and the next run polls it again.
   */
  private static final int FAILED_CALLS = 10;

  private final PathlingServer pathling;
  private final Pause pause;
  private final Duration pollFloor;
  private final Duration pollCap;

  PathlingImportClient(PathlingServer pathling, Pause pause, Duration pollFloor, Duration pollCap) {
    this.pathling = pathling;
    this.pause = pause;
    this.pollFloor = pollFloor;
    this.pollCap = pollCap;
  }

  public URI kickOffImport(List<StagedFile> files, String saveMode) throws InterruptedException {
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

  public URI kickOffPnp(String sourceBaseUrl, String saveMode, List<String> types, Optional<Instant> since)
      throws InterruptedException {
    Parameters parameters = new Parameters();
    parameters.addParameter().setName("exportUrl").setValue(new UrlType(sourceBaseUrl));
    parameters.addParameter().setName("saveMode").setValue(new CodeType(saveMode));
    // One _type per type, as the Bulk Data IG's Parameters kick-off lists them.
    for (String type : types) {
      parameters.addParameter().setName("_type").setValue(new StringType(type));
    }
    since.ifPresent(instant -> parameters.addParameter().setName("_since").setValue(new InstantType(Date.from(instant))));
    return kickOff("$import-pnp", parameters);
  }

  private URI kickOff(String operation, Parameters parameters) throws InterruptedException {
    String json = pathling.fhirContext().newJsonParser().encodeResourceToString(parameters);
    // Repeating a kick-off is safe: Pathling answers an identical request with the job it started.
    return patiently(() -> kickOffOnce(operation, json));
  }

  private URI kickOffOnce(String operation, String json) {
    URI base = pathling.base();
    HttpPost post = new HttpPost(base.resolve(operation));
    post.setHeader("Prefer", "respond-async");
    // Pathling compares Accept literally: HAPI's usual q-value list would be refused.
    post.setHeader("Accept", "application/fhir+json");
    Optional<String> token = pathling.authorize(post);
    post.setEntity(new StringEntity(json, ContentType.create("application/fhir+json", StandardCharsets.UTF_8)));
    try (CloseableHttpResponse response = pathling.http().execute(post)) {
      int status = response.getStatusLine().getStatusCode();
      String body = PathlingServer.bodyOf(response);
      if (status == 202) {
        Header location = response.getFirstHeader("Content-Location");
        if (location == null) {
          throw new ImportFailedException("Pathling accepted " + operation + " but sent no Content-Location");
        }
        return base.resolve(location.getValue());
      }
      String message = "Pathling refused " + operation + " with " + status + ": " + pathling.diagnostics(body);
      throw failure(status, token, response, message);
    } catch (IOException e) {
      throw new RetriableWriteException("Pathling did not answer " + operation + ": " + e.getMessage(), 0, null, e);
    }
  }

  /** Polls a job until it ends; throws when it failed. Returns the job's result. */
  public Parameters awaitJob(URI jobUrl, Consumer<String> progress) throws InterruptedException {
    while (true) {
      Poll poll = patiently(() -> pollOnce(jobUrl));
      if (poll.result() != null) {
        return poll.result();
      }
      poll.progress().ifPresent(progress);
      Duration wait = poll.next();
      pause.pause(wait.compareTo(pollFloor) < 0 ? pollFloor : wait.compareTo(pollCap) > 0 ? pollCap : wait);
    }
  }

  /** One answer about a job: its result when it is done, else its progress and when to ask again. */
  private record Poll(Parameters result, Optional<String> progress, Duration next) {}

  private Poll pollOnce(URI jobUrl) {
    HttpGet get = new HttpGet(jobUrl);
    get.setHeader("Accept", "application/fhir+json");
    Optional<String> token = pathling.authorize(get);
    try (CloseableHttpResponse response = pathling.http().execute(get)) {
      int status = response.getStatusLine().getStatusCode();
      String body = PathlingServer.bodyOf(response);
      if (status == 200) {
        IBaseResource result = parse(body);
        return new Poll(result instanceof Parameters parameters ? parameters : new Parameters(), Optional.empty(), null);
      }
      if (status == 202) {
        Optional<String> progress = Optional.ofNullable(response.getFirstHeader("X-Progress")).map(Header::getValue);
        return new Poll(null, progress, pathling.retryAfter(response).orElse(pollFloor));
      }
      // Any other status is the job's own end: Pathling answers 500 for a load that failed, 404
      // for a job it forgot. Polling again would get the same.
      String message = "The Pathling job at " + jobUrl + " failed with " + status + ": " + pathling.diagnostics(body);
      throw failure(status, token, response, message);
    } catch (IOException e) {
      throw new RetriableWriteException("Pathling did not answer about " + jobUrl + ": " + e.getMessage(), 0, null, e);
    }
  }

  /**
   * Why a call did not succeed: Pathling cannot take it now but may later (throttled: 429,
   * unavailable: 503, the token refused: 401, and a fresh one is fetched for the next attempt), or
   * it refused the load for good.
   */
  private RuntimeException failure(int status, Optional<String> token, CloseableHttpResponse response, String message) {
    if (status == 401 && token.isPresent()) {
      pathling.tokens().invalidate(token.get());
      return new RetriableWriteException(message, status, null, null);
    }
    if (status == 429 || status == 503) {
      return new RetriableWriteException(message, status, pathling.retryAfter(response).orElse(null), null);
    }
    return new ImportFailedException(message);
  }

  /**
   * Runs {@code call} through the Retry and the breaker; when it still fails (or the breaker is
   * open, as after the forwarder's failures), waits the poll cap and tries again, a few times.
   */
  private <T> T patiently(Supplier<T> call) throws InterruptedException {
    for (int failed = 1; ; failed++) {
      try {
        return pathling.calls().call(call);
      } catch (RetriableWriteException | CallNotPermittedException e) {
        if (failed >= FAILED_CALLS) {
          throw e;
        }
        pause.pause(pollCap);
      }
    }
  }

  private IBaseResource parse(String body) {
    try {
      return body.isBlank() ? new Parameters() : pathling.fhirContext().newJsonParser().parseResource(body);
    } catch (DataFormatException e) {
      return new Parameters();
    }
  }
}
