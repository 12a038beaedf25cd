package org.pathlingrelay.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.http.NameValuePair;
import org.apache.http.client.config.RequestConfig;
import org.apache.http.client.entity.UrlEncodedFormEntity;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpGet;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.message.BasicNameValuePair;
import org.apache.http.util.EntityUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OAuth2 client-credentials tokens for one server, with a client secret or a SMART Backend
 * Services client assertion. One token is shared by all threads and cached until shortly before it
 * expires (Caffeine loads it once however many threads ask); a refused token is dropped and the
 * next request gets a new one. A token endpoint that is down is retried with back-off; one that
 * refuses the credentials fails at once with its reason.
 */
public final class OAuthTokens implements AccessTokens, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(OAuthTokens.class);
  private static final String KEY = "token";
  /** Refresh this long before the server says the token expires. */
  private static final Duration MARGIN = Duration.ofSeconds(30);
  private static final Duration ASSERTION_LIFETIME = Duration.ofMinutes(4);

  private record Token(String value, Instant expiresAt) {}

  private final ClientAuthentication client;
  private final Clock clock;
  private final CloseableHttpClient http;
  private final ObjectMapper json = new ObjectMapper();
  private final Retry retry;
  private final LoadingCache<String, Token> cache;
  private volatile URI tokenEndpoint;

  public OAuthTokens(ClientAuthentication client, Clock clock, Duration initialBackoff, int maxAttempts) {
    this.client = client;
    this.clock = clock;
    this.tokenEndpoint = client.tokenEndpoint().orElse(null);
    this.http = HttpClients.custom()
        .setDefaultRequestConfig(RequestConfig.custom().setConnectTimeout(10_000).setSocketTimeout(30_000).build())
        .setUserAgent("pathling-relay")
        .build();
    this.retry = Retry.of("token-" + client.clientId(), RetryConfig.custom()
        .maxAttempts(maxAttempts)
        .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(initialBackoff, 2.0, 0.5, Duration.ofMinutes(1)))
        .retryOnException(e -> e instanceof TransientTokenFailure)
        .build());
    this.cache = Caffeine.newBuilder()
        .maximumSize(1)
        .expireAfter(new Expiry<String, Token>() {
          @Override
          public long expireAfterCreate(String key, Token token, long currentTime) {
            return Math.max(0, Duration.between(clock.instant(), token.expiresAt().minus(MARGIN)).toNanos());
          }

          @Override
          public long expireAfterUpdate(String key, Token token, long currentTime, long currentDuration) {
            return expireAfterCreate(key, token, currentTime);
          }

          @Override
          public long expireAfterRead(String key, Token token, long currentTime, long currentDuration) {
            return currentDuration;
          }
        })
        .build(key -> Retry.decorateSupplier(retry, this::requestToken).get());
  }

  @Override
  public Optional<String> token() {
    try {
      return Optional.of(cache.get(KEY).value());
    } catch (TransientTokenFailure e) {
      throw new AuthenticationFailedException("The token endpoint is unavailable: " + e.getMessage());
    }
  }

  @Override
  public boolean invalidate(String refused) {
    Token current = cache.getIfPresent(KEY);
    if (current != null && current.value().equals(refused)) {
      cache.invalidate(KEY);
    }
    return true;
  }

  /** A failure worth retrying: the endpoint is down or overloaded. */
  private static final class TransientTokenFailure extends RuntimeException {
    TransientTokenFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private Token requestToken() {
    URI endpoint = endpoint();
    List<NameValuePair> form = new ArrayList<>();
    form.add(new BasicNameValuePair("grant_type", "client_credentials"));
    client.scope().ifPresent(scope -> form.add(new BasicNameValuePair("scope", scope)));
    HttpPost post = new HttpPost(endpoint);
    post.setHeader("Accept", "application/json");
    if (client.privateKey().isPresent()) {
      form.add(new BasicNameValuePair("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
      form.add(new BasicNameValuePair("client_assertion", assertion(endpoint)));
    } else if (client.secretMethod() == ClientAuthentication.SecretMethod.POST) {
      form.add(new BasicNameValuePair("client_id", client.clientId()));
      form.add(new BasicNameValuePair("client_secret", client.clientSecret().orElseThrow()));
    } else {
      String pair = urlEncode(client.clientId()) + ":" + urlEncode(client.clientSecret().orElseThrow());
      post.setHeader("Authorization", "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
    }
    post.setEntity(new UrlEncodedFormEntity(form, StandardCharsets.UTF_8));
    Instant asked = clock.instant();
    try (CloseableHttpResponse response = http.execute(post)) {
      int status = response.getStatusLine().getStatusCode();
      String body = response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
      if (status == 429 || status >= 500) {
        throw new TransientTokenFailure("the token endpoint answered " + status, null);
      }
      JsonNode answer = parse(body);
      if (status != 200 || !answer.hasNonNull("access_token")) {
        throw new AuthenticationFailedException("The token endpoint " + endpoint + " refused client '" + client.clientId()
            + "' (" + status + "): " + answer.path("error").asText("no error code")
            + (answer.has("error_description") ? " - " + answer.get("error_description").asText() : ""));
      }
      long lifetime = answer.path("expires_in").asLong(300);
      log.info("Obtained an access token for client '{}' from {}, valid for {} s", client.clientId(), endpoint, lifetime);
      return new Token(answer.get("access_token").asText(), asked.plusSeconds(lifetime));
    } catch (IOException e) {
      throw new TransientTokenFailure("the token endpoint did not answer: " + e.getMessage(), e);
    }
  }

  /** The SMART Backend Services client assertion: signed, short-lived, single-use. */
  private String assertion(URI endpoint) {
    Instant now = clock.instant();
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .issuer(client.clientId())
        .subject(client.clientId())
        .audience(endpoint.toString())
        .issueTime(Date.from(now))
        .expirationTime(Date.from(now.plus(ASSERTION_LIFETIME)))
        .jwtID(UUID.randomUUID().toString())
        .build();
    boolean ec = client.privateKey().orElseThrow() instanceof ECPrivateKey;
    JWSHeader.Builder header = new JWSHeader.Builder(ec ? JWSAlgorithm.ES384 : JWSAlgorithm.RS384).type(JOSEObjectType.JWT);
    client.keyId().ifPresent(header::keyID);
    try {
      JWSSigner signer = ec
          ? new ECDSASigner((ECPrivateKey) client.privateKey().get())
          : new RSASSASigner(client.privateKey().get());
      SignedJWT jwt = new SignedJWT(header.build(), claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new AuthenticationFailedException("cannot sign the client assertion for '" + client.clientId() + "': " + e.getMessage());
    }
  }

  /** The token endpoint, from the configuration or the server's SMART configuration document. */
  private URI endpoint() {
    if (tokenEndpoint != null) {
      return tokenEndpoint;
    }
    String base = client.fhirBaseUrl().endsWith("/") ? client.fhirBaseUrl() : client.fhirBaseUrl() + "/";
    URI discovery = URI.create(base).resolve(".well-known/smart-configuration");
    HttpGet get = new HttpGet(discovery);
    get.setHeader("Accept", "application/json");
    try (CloseableHttpResponse response = http.execute(get)) {
      int status = response.getStatusLine().getStatusCode();
      String body = response.getEntity() == null ? "" : EntityUtils.toString(response.getEntity(), StandardCharsets.UTF_8);
      if (status >= 500 || status == 429) {
        throw new TransientTokenFailure(discovery + " answered " + status, null);
      }
      String found = parse(body).path("token_endpoint").asText(null);
      if (status != 200 || found == null) {
        throw new AuthenticationFailedException("No token endpoint configured, and " + discovery
            + " does not name one (" + status + "); set the token endpoint explicitly");
      }
      tokenEndpoint = URI.create(found);
      return tokenEndpoint;
    } catch (IOException e) {
      throw new TransientTokenFailure("cannot read " + discovery + ": " + e.getMessage(), e);
    }
  }

  private JsonNode parse(String body) {
    try {
      return body.isBlank() ? json.createObjectNode() : json.readTree(body);
    } catch (IOException e) {
      return json.createObjectNode();
    }
  }

  private static String urlEncode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "OAuthTokens[" + client + "]";
  }

  @Override
  public void close() throws IOException {
    http.close();
  }
}
