package org.pathlingrelay.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.http.Header;
import org.apache.http.HttpResponse;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpDelete;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.client.utils.URIBuilder;
import org.apache.http.entity.ContentType;
import org.apache.http.entity.StringEntity;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.util.EntityUtils;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.AuthenticationFailedException;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.http.RetryAfter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FHIR Bulk Data Access client as real servers need it: async kick-off, polling that backs off
 * (sooner when {@code Retry-After} says so) within a floor and a cap, transient failures retried
 * with back-off, cancellation with {@code DELETE}, and streamed, gzip-aware downloads.
 *
 * <p>Why not {@code au.csiro.fhir:bulk-export} (the client Pathling's {@code $import-pnp} uses)?
 * It writes each file to a Hadoop file system and only then reports; it skips the manifest's
 * {@code deleted} and {@code error} files; and it brings Hadoop's client with it. The relay needs
 * the lines as a stream into its outbox, the deletes, and the errors.
 */
public final class BulkExportClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BulkExportClient.class);
  /** The name of the source requests' retry in the registry. */
  public static final String RETRY = "source";
  static final String NDJSON_ACCEPT = "application/fhir+ndjson, application/ndjson, */*";

  /**
   * @param pollFloor shortest wait between polls, whatever the server says
   * @param pollStart first wait between polls; each next one doubles, up to the cap
   * @param pollCap longest wait between polls (HAPI asks for 120 s, and is often done sooner)
   * @param exportTimeout give up (and cancel the job) after this long
   * @param maxAttempts attempts per request on transient failures
   * @param initialBackoff first back-off after a transient failure
   * @param requestTimeout connect and read timeout of one request
   */
  public record Settings(
      Duration pollFloor,
      Duration pollStart,
      Duration pollCap,
      Duration exportTimeout,
      int maxAttempts,
      Duration initialBackoff,
      Duration requestTimeout) {

    public static final Settings DEFAULTS =
        new Settings(
            Duration.ofSeconds(1),
            Duration.ofSeconds(2),
            Duration.ofSeconds(60),
            Duration.ofHours(6),
            6,
            Duration.ofSeconds(2),
            Duration.ofMinutes(5));

    /** Polls that start at the floor. */
    public Settings(
        Duration pollFloor, Duration pollCap, Duration exportTimeout, int maxAttempts, Duration initialBackoff,
        Duration requestTimeout) {
      this(pollFloor, pollFloor, pollCap, exportTimeout, maxAttempts, initialBackoff, requestTimeout);
    }
  }

  private final URI base;
  private final AccessTokens tokens;
  private final ThreadLocal<String> sentToken = new ThreadLocal<>();
  private final Settings settings;
  private final Pause pause;
  private final CloseableHttpClient http;
  private final Retry retry;
  private final IntervalFunction pollBackoff;
  private final ObjectMapper json = new ObjectMapper();

  public BulkExportClient(
      String baseUrl, Optional<String> token, Settings settings, int maxConnections, Pause pause) {
    this(baseUrl, AccessTokens.fixed(token), settings, maxConnections, pause);
  }

  public BulkExportClient(
      String baseUrl, AccessTokens tokens, Settings settings, int maxConnections, Pause pause) {
    this(baseUrl, tokens, settings, maxConnections, pause, RetryRegistry.ofDefaults());
  }

  /** @param retries where the retries of the source's requests ({@value #RETRY}) count, for their metrics */
  public BulkExportClient(
      String baseUrl, AccessTokens tokens, Settings settings, int maxConnections, Pause pause, RetryRegistry retries) {
    this.base = URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
    this.tokens = tokens;
    this.settings = settings;
    this.pause = pause;
    int timeout = (int) settings.requestTimeout().toMillis();
    this.http =
        HttpClients.custom()
            .setDefaultRequestConfig(
                RequestConfig.custom()
                    .setConnectTimeout(Math.min(timeout, 30_000))
                    .setSocketTimeout(timeout)
                    .setConnectionRequestTimeout(timeout)
                    .build())
            .setMaxConnPerRoute(maxConnections + 2)
            .setMaxConnTotal(maxConnections + 2)
            .setUserAgent("pathling-relay")
            .build();
    this.retry = retries.find(RETRY).orElseGet(() -> newRetry(retries, settings));
    // The Bulk Data spec advises exponential back-off for status polls: HAPI asks for 120 s, yet
    // finishes a job a step per maintenance pass, so its hint only shortens a wait, never lengthens it.
    this.pollBackoff = IntervalFunction.ofExponentialBackoff(settings.pollStart(), 2.0, settings.pollCap());
  }

  /** The first client on a registry makes its retry, so that a second one does not log twice. */
  private static Retry newRetry(RetryRegistry retries, Settings settings) {
    IntervalFunction backoff =
        IntervalFunction.ofExponentialRandomBackoff(settings.initialBackoff(), 2.0, 0.5, Duration.ofMinutes(2));
    IntervalBiFunction<Object> wait =
        (attempt, outcome) -> {
          if (outcome.isLeft()
              && outcome.getLeft() instanceof SourceException failure
              && failure.retryAfter().isPresent()) {
            return clamp(failure.retryAfter().get(), settings).toMillis();
          }
          return backoff.apply(attempt);
        };
    Retry retry =
        retries.retry(
            RETRY,
            RetryConfig.custom()
                .maxAttempts(settings.maxAttempts())
                .intervalBiFunction(wait)
                .retryOnException(e -> e instanceof SourceException s && s.isTransient())
                .ignoreExceptions(AuthenticationFailedException.class)
                .build());
    retry.getEventPublisher()
        .onRetry(event -> log.warn("Source request failed, retrying (attempt {}): {}",
            event.getNumberOfRetryAttempts(), event.getLastThrowable().getMessage()));
    return retry;
  }

  /** The source's FHIR base URL, without a trailing slash. */
  /** The credentials this client sends, for other clients of the same source. */
  public AccessTokens tokens() {
    return tokens;
  }

  public String baseUrl() {
    String url = base.toString();
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  /** The first back-off after a transient failure; callers retrying whole files use it too. */
  public Duration initialBackoff() {
    return settings.initialBackoff();
  }

  /** Starts an export; returns the status URL to poll. */
  public URI kickOff(ExportRequest request) {
    return withRetry(() -> {
      HttpGet get = new HttpGet(kickOffUri(request));
      get.setHeader("Prefer", "respond-async");
      get.setHeader("Accept", "application/fhir+json");
      authorize(get);
      try (CloseableHttpResponse response = http.execute(get)) {
        int status = response.getStatusLine().getStatusCode();
        String body = bodyOf(response);
        if (status == 405) {
          return kickOffByPost(request);
        }
        if (status != 202) {
          throw failure("The export kick-off", response, body);
        }
        Header location = response.getFirstHeader("Content-Location");
        if (location == null) {
          throw new SourceException(
              "The source accepted the export but sent no Content-Location to poll", status, false, null, null);
        }
        return base.resolve(location.getValue());
      } catch (IOException e) {
        throw unreachable("the export kick-off", e);
      }
    });
  }

  /** Some servers only take the kick-off as a POST of a Parameters resource. */
  private URI kickOffByPost(ExportRequest request) throws IOException {
    ObjectNode parameters = json.createObjectNode();
    parameters.put("resourceType", "Parameters");
    ArrayNode list = parameters.putArray("parameter");
    for (String type : request.types()) {
      list.addObject().put("name", "_type").put("valueString", type);
    }
    request.since().ifPresent(since -> list.addObject().put("name", "_since").put("valueInstant", since.toString()));
    for (String filter : request.typeFilters()) {
      list.addObject().put("name", "_typeFilter").put("valueString", filter);
    }
    if (!request.elements().isEmpty()) {
      list.addObject().put("name", "_elements").put("valueString", String.join(",", request.elements()));
    }
    list.addObject().put("name", "_outputFormat").put("valueString", "application/fhir+ndjson");
    HttpPost post = new HttpPost(base.resolve(request.path()));
    post.setHeader("Prefer", "respond-async");
    post.setHeader("Accept", "application/fhir+json");
    authorize(post);
    post.setEntity(new StringEntity(json.writeValueAsString(parameters),
        ContentType.create("application/fhir+json", StandardCharsets.UTF_8)));
    try (CloseableHttpResponse response = http.execute(post)) {
      String body = bodyOf(response);
      if (response.getStatusLine().getStatusCode() != 202) {
        throw failure("The export kick-off (POST)", response, body);
      }
      Header location = response.getFirstHeader("Content-Location");
      if (location == null) {
        throw new SourceException("The source accepted the export but sent no Content-Location to poll", 202, false, null, null);
      }
      return base.resolve(location.getValue());
    }
  }

  private URI kickOffUri(ExportRequest request) {
    try {
      URIBuilder uri = new URIBuilder(base.resolve(request.path()));
      if (!request.types().isEmpty()) {
        uri.addParameter("_type", String.join(",", request.types()));
      }
      request.since().ifPresent(since -> uri.addParameter("_since", since.toString()));
      for (String filter : request.typeFilters()) {
        uri.addParameter("_typeFilter", filter);
      }
      if (!request.elements().isEmpty()) {
        uri.addParameter("_elements", String.join(",", request.elements()));
      }
      uri.addParameter("_outputFormat", "application/fhir+ndjson");
      return uri.build();
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("cannot build the kick-off URL: " + e.getMessage(), e);
    }
  }

  /** One poll of the status URL. */
  public ExportStatus poll(URI statusUrl) {
    return withRetry(() -> {
      HttpGet get = new HttpGet(statusUrl);
      get.setHeader("Accept", "application/json");
      authorize(get);
      try (CloseableHttpResponse response = http.execute(get)) {
        int status = response.getStatusLine().getStatusCode();
        String body = bodyOf(response);
        if (status == 202) {
          return new ExportStatus.InProgress(
              retryAfter(response), Optional.ofNullable(response.getFirstHeader("X-Progress")).map(Header::getValue));
        }
        if (status == 200) {
          return new ExportStatus.Complete(parseManifest(body, statusUrl));
        }
        throw failure("Polling the export", response, body);
      } catch (IOException e) {
        throw unreachable("the export status", e);
      }
    });
  }

  /**
   * Polls until the export completes. Gives up after the export timeout, and cancels the job
   * when it gives up or is interrupted, so the source does not keep working for nobody. A source
   * that stops answering (transient failures beyond the retries) keeps its job: the journal holds
   * the job's URL, and the next run resumes it.
   */
  public ExportManifest awaitManifest(URI statusUrl, Consumer<String> progress) throws InterruptedException {
    Instant deadline = pause.now().plus(settings.exportTimeout());
    boolean keepJob = false;
    try {
      for (int polls = 1; ; polls++) {
        ExportStatus status = poll(statusUrl);
        if (status instanceof ExportStatus.Complete complete) {
          keepJob = true;
          return complete.manifest();
        }
        ExportStatus.InProgress running = (ExportStatus.InProgress) status;
        running.progress().ifPresent(progress);
        if (pause.now().isAfter(deadline)) {
          throw new SourceException(
              "The export did not finish within " + settings.exportTimeout(), 0, false, null, null);
        }
        pause.pause(pollWait(polls, running.retryAfter()));
      }
    } catch (SourceException unanswered) {
      if (unanswered.isTransient()) {
        // Cancelled, the job would be gone when the next run resumes it from the journal (404,
        // run after run); left alone, it finishes and that run picks up its manifest.
        keepJob = true;
      }
      throw unanswered;
    } finally {
      if (!keepJob) {
        cancelQuietly(statusUrl);
      }
    }
  }

  /** Asks the source to stop and delete an export job. */
  public void cancel(URI statusUrl) {
    HttpDelete delete = new HttpDelete(statusUrl);
    authorize(delete);
    try (CloseableHttpResponse response = http.execute(delete)) {
      EntityUtils.consumeQuietly(response.getEntity());
    } catch (IOException e) {
      throw unreachable("the export cancellation", e);
    }
  }

  private void cancelQuietly(URI statusUrl) {
    try {
      cancel(statusUrl);
      log.info("Cancelled the export job at {}", statusUrl);
    } catch (RuntimeException e) {
      log.warn("Could not cancel the export job at {}: {}", statusUrl, e.getMessage());
    }
  }

  /**
   * Opens one output file as a stream of NDJSON bytes (decompressed if the source gzipped it).
   * Asks for NDJSON explicitly: HAPI answers {@code application/fhir+json} with a Binary wrapper.
   * The caller must close the stream.
   */
  public InputStream download(URI fileUrl, boolean requiresAccessToken) {
    return withRetry(() -> {
      HttpGet get = new HttpGet(fileUrl);
      get.setHeader("Accept", NDJSON_ACCEPT);
      get.setHeader("Accept-Encoding", "gzip");
      if (requiresAccessToken) {
        authorize(get);
      }
      CloseableHttpResponse response = null;
      try {
        response = http.execute(get);
        int status = response.getStatusLine().getStatusCode();
        if (status != 200) {
          String body = bodyOf(response);
          response.close();
          throw failure("Downloading " + fileUrl, response, body);
        }
        return new ResponseStream(response);
      } catch (IOException e) {
        closeQuietly(response);
        throw unreachable("the download of " + fileUrl, e);
      }
    });
  }

  private ExportManifest parseManifest(String body, URI statusUrl) {
    try {
      JsonNode root = json.readTree(body);
      Instant transactionTime = parseInstant(root.path("transactionTime").asText(null));
      return new ExportManifest(
          transactionTime,
          root.path("request").asText(""),
          root.path("requiresAccessToken").asBoolean(false),
          files(root.path("output")),
          files(root.path("error")),
          files(root.path("deleted")),
          Optional.ofNullable(root.path("message").asText(null)));
    } catch (IOException | RuntimeException e) {
      throw new SourceException(
          "The export manifest from " + statusUrl + " is not valid: " + e.getMessage(), 200, false, null, e);
    }
  }

  private List<ExportManifest.ExportFile> files(JsonNode array) {
    List<ExportManifest.ExportFile> files = new ArrayList<>();
    for (JsonNode file : array) {
      files.add(
          new ExportManifest.ExportFile(
              file.path("type").asText(),
              base.resolve(file.path("url").asText()),
              file.has("count") ? Optional.of(file.get("count").asLong()) : Optional.empty()));
    }
    return files;
  }

  /** FHIR instants, including HAPI's {@code +00:00} offsets. */
  static Instant parseInstant(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("the manifest has no transactionTime");
    }
    return FhirInstants.parse(text);
  }


  /** The wait after the {@code polls}th poll: the back-off, or the server's hint when sooner. */
  private Duration pollWait(int polls, Optional<Duration> retryAfter) {
    Duration backoff = Duration.ofMillis(pollBackoff.apply(polls));
    return clamp(retryAfter.filter(hint -> hint.compareTo(backoff) < 0).orElse(backoff), settings);
  }

  private static Duration clamp(Duration asked, Settings settings) {
    if (asked.compareTo(settings.pollFloor()) < 0) {
      return settings.pollFloor();
    }
    return asked.compareTo(settings.pollCap()) > 0 ? settings.pollCap() : asked;
  }

  private <T> T withRetry(Supplier<T> call) {
    return Retry.decorateSupplier(retry, call).get();
  }

  private void authorize(HttpRequestBase request) {
    sentToken.remove();
    tokens.token().ifPresent(t -> {
      request.setHeader("Authorization", "Bearer " + t);
      sentToken.set(t);
    });
  }

  private static String bodyOf(HttpResponse response) throws IOException {
    return response.getEntity() == null
        ? ""
        : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
  }

  private SourceException failure(String what, HttpResponse response, String body) {
    int status = response.getStatusLine().getStatusCode();
    boolean transientFailure = status == 429 || status == 408 || status >= 500;
    if (status == 401 && sentToken.get() != null) {
      // A refused token is dropped; the retry asks for a new one (once it can be refreshed).
      transientFailure = tokens.invalidate(sentToken.get());
    }
    String detail = body.length() > 500 ? body.substring(0, 500) + "..." : body;
    return new SourceException(
        what + " failed with " + status + (detail.isBlank() ? "" : ": " + detail),
        status,
        transientFailure,
        retryAfter(response).orElse(null),
        null);
  }

  private static SourceException unreachable(String what, IOException e) {
    return new SourceException("The source did not answer " + what + ": " + e.getMessage(), 0, true, null, e);
  }

  private Optional<Duration> retryAfter(HttpResponse response) {
    Header header = response.getFirstHeader("Retry-After");
    return header == null ? Optional.empty() : RetryAfter.parse(header.getValue(), pause.now());
  }


  private static void closeQuietly(CloseableHttpResponse response) {
    if (response != null) {
      try {
        response.close();
      } catch (IOException ignored) {
        // the connection is discarded either way
      }
    }
  }

  @Override
  public void close() throws IOException {
    http.close();
  }

  /** The body of a download; closing it releases the connection. */
  private static final class ResponseStream extends FilterInputStream {
    private final CloseableHttpResponse response;

    ResponseStream(CloseableHttpResponse response) throws IOException {
      super(response.getEntity().getContent());
      this.response = response;
    }

    @Override
    public void close() throws IOException {
      try {
        super.close();
      } catch (IOException | UncheckedIOException e) {
        // a stream cut short; the response is closed below regardless
      } finally {
        response.close();
      }
    }
  }
}
