package org.pathlingrelay.pathling;

import ca.uhn.fhir.context.FhirContext;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Optional;
import org.apache.http.Header;
import org.apache.http.HttpResponse;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.methods.HttpRequestBase;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.util.EntityUtils;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.AuthenticationFailedException;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.http.RetryAfter;

/**
 * One Pathling, and what every call to it shares: the base URL, the credentials, one pooled HTTP
 * client with the timeouts, the reading of {@code Retry-After}, and one Retry and circuit breaker
 * ({@link PathlingCalls}). The forwarder's writes and the bulk loads go through the same breaker,
 * so a Pathling that keeps failing is left alone by both, and both back off the same way.
 */
public final class PathlingServer implements AutoCloseable {

  /** A Pathling that takes longer than this to accept a connection is not going to answer. */
  private static final Duration LONGEST_CONNECT = Duration.ofSeconds(10);
  /** Requests of every kind in flight at once: the forwarder's types in parallel, plus a load's polls. */
  private static final int CONNECTIONS = 32;

  private final FhirContext fhirContext;
  private final String baseUrl;
  private final AccessTokens tokens;
  private final Duration connectTimeout;
  private final Duration answerTimeout;
  private final PathlingCalls calls;
  private final InstantSource clock;
  private final CloseableHttpClient http;

  /**
   * @param timeout longest silence while waiting for an answer ({@code --pathling-timeout})
   * @param calls the Retry and circuit breaker every call to this Pathling passes
   * @param clock measures {@code Retry-After} dates from now
   */
  public PathlingServer(
      FhirContext fhirContext,
      String baseUrl,
      AccessTokens tokens,
      Duration timeout,
      PathlingCalls calls,
      InstantSource clock) {
    this.fhirContext = fhirContext;
    this.baseUrl = baseUrl;
    this.tokens = tokens;
    this.connectTimeout = timeout.compareTo(LONGEST_CONNECT) < 0 ? timeout : LONGEST_CONNECT;
    this.answerTimeout = timeout;
    this.calls = calls;
    this.clock = clock;
    int connectMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
    int answerMillis = (int) Math.min(Integer.MAX_VALUE, answerTimeout.toMillis());
    this.http = HttpClients.custom()
        .setDefaultRequestConfig(RequestConfig.custom()
            .setConnectTimeout(connectMillis)
            .setSocketTimeout(answerMillis)
            .setConnectionRequestTimeout(answerMillis)
            .build())
        .setMaxConnPerRoute(CONNECTIONS)
        .setMaxConnTotal(CONNECTIONS)
        .setUserAgent("pathling-relay")
        .build();
  }

  /** The forwarder's writes: batch, update and delete. */
  public PathlingWriter writer() {
    return new HapiPathlingWriter(this);
  }

  /**
   * The bulk loads ({@code $import}, {@code $import-pnp}) and their job polls.
   *
   * @param pollFloor the shortest wait between polls of a job
   * @param pollCap the longest wait between polls, whatever {@code Retry-After} asks
   */
  public PathlingImportClient imports(Pause pause, Duration pollFloor, Duration pollCap) {
    return new PathlingImportClient(this, pause, pollFloor, pollCap);
  }

  /** Reads of what Pathling holds: counts and id listings, for {@code verify}. */
  public PathlingReader reader() {
    return new PathlingReader(this);
  }

  /** The Retry and circuit breaker every call to this Pathling passes. */
  public PathlingCalls calls() {
    return calls;
  }

  FhirContext fhirContext() {
    return fhirContext;
  }

  String baseUrl() {
    return baseUrl;
  }

  /** The base with a trailing slash, so that operation names resolve under it. */
  URI base() {
    return URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
  }

  AccessTokens tokens() {
    return tokens;
  }

  Duration connectTimeout() {
    return connectTimeout;
  }

  Duration answerTimeout() {
    return answerTimeout;
  }

  CloseableHttpClient http() {
    return http;
  }

  /**
   * Puts the current token on {@code request}; returns it, to invalidate it if Pathling refuses
   * it. A token endpoint that fails is Pathling being unreachable for now: retried, not fatal.
   */
  Optional<String> authorize(HttpRequestBase request) {
    Optional<String> token;
    try {
      token = tokens.token();
    } catch (AuthenticationFailedException refused) {
      throw new RetriableWriteException(refused.getMessage(), 401, null, refused);
    }
    token.ifPresent(t -> request.setHeader("Authorization", "Bearer " + t));
    return token;
  }

  /** The wait a response's {@code Retry-After} asks for, if it has one that parses. */
  Optional<Duration> retryAfter(HttpResponse response) {
    Header header = response.getFirstHeader("Retry-After");
    return header == null ? Optional.empty() : retryAfter(header.getValue());
  }

  Optional<Duration> retryAfter(String headerValue) {
    return RetryAfter.parse(headerValue, clock.instant());
  }

  static String bodyOf(HttpResponse response) throws IOException {
    return response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
  }

  /** The first issue's diagnostics of an OperationOutcome, or the start of the body. */
  String diagnostics(String body) {
    try {
      IBaseResource parsed = fhirContext.newJsonParser().parseResource(body);
      if (parsed instanceof OperationOutcome outcome && outcome.hasIssue()) {
        return outcome.getIssueFirstRep().getDiagnostics();
      }
    } catch (RuntimeException notFhir) {
      // fall through to the raw text
    }
    return body.length() > 300 ? body.substring(0, 300) + "..." : body;
  }

  @Override
  public void close() throws IOException {
    http.close();
  }
}
