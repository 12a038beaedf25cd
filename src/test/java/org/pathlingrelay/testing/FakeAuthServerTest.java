package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.server.provider.HashMapResourceProvider;
import ca.uhn.fhir.test.utilities.server.BaseJettyServerExtension;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.testing.FakeAuthServer.AuthMethod;
import org.pathlingrelay.testing.FakeAuthServer.IssuedToken;
import org.pathlingrelay.testing.FakeAuthServer.TokenRequest;

/** Specifies the fake auth server and the bearer-token guard, over real HTTP. */
class FakeAuthServerTest {

  @RegisterExtension
  static final FakeAuthServer auth = new FakeAuthServer();

  /** The guard in a HAPI server, as a fake Pathling would register it. */
  static final RequireBearerToken hapiGuard = new RequireBearerToken(auth);

  private static final FhirContext CTX = FhirContext.forR4();
  private static final HashMapResourceProvider<Patient> patients =
      new HashMapResourceProvider<>(CTX, Patient.class);

  @RegisterExtension
  static final RestfulServerExtension fhir = new RestfulServerExtension(CTX)
      .withServletPath("/fhir/*")
      .registerProvider(patients)
      .registerInterceptor(hapiGuard)
      .keepAliveBetweenTests();

  /** The guard as a servlet filter in front of a plain servlet, as a fake bulk source would. */
  static final RequireBearerToken filterGuard = new RequireBearerToken(auth);

  @RegisterExtension
  static final PlainServer plain = new PlainServer().withServletPath("/fhir/*")
      .withServletFilter(filterGuard).keepAliveBetweenTests();

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  private static RSAKey rsa;
  private static ECKey ec;
  private static RSAKey impostor;

  @BeforeAll
  static void registerClients() throws JOSEException {
    rsa = new RSAKeyGenerator(2048).keyID("k1").generate();
    ec = new ECKeyGenerator(Curve.P_384).keyID("e1").generate();
    impostor = new RSAKeyGenerator(2048).keyID("k1").generate(); // same kid, other key
    auth.registerSecretClient("relay", "s3:cr+t%/ é");
    auth.registerJwkClient("relay-rsa", rsa.toPublicJWK());
    auth.registerJwkClient("relay-ec", ec.toPublicJWK());
  }

  // ---------------------------------------------------------------- discovery

  @Test
  void servesTheSmartConfigurationAtTheRootAndUnderTheFhirBase() throws Exception {
    for (String url : List.of(auth.smartConfigurationUrl(),
        auth.fhirBaseUrl() + "/.well-known/smart-configuration")) {
      HttpResponse<String> response = get(url, null);

      assertThat(response.statusCode()).as(url).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type")).get().asString()
          .startsWith("application/json");
      JsonNode doc = JSON.readTree(response.body());
      assertThat(doc.path("token_endpoint").asText()).isEqualTo(auth.tokenEndpoint())
          .isEqualTo(auth.baseUrl() + "/token");
      assertThat(texts(doc.path("token_endpoint_auth_methods_supported")))
          .containsExactlyInAnyOrder("private_key_jwt", "client_secret_basic",
              "client_secret_post");
      assertThat(texts(doc.path("token_endpoint_auth_signing_alg_values_supported")))
          .containsExactlyInAnyOrder("RS384", "ES384");
      assertThat(texts(doc.path("grant_types_supported"))).containsExactly("client_credentials");
      assertThat(texts(doc.path("scopes_supported"))).contains("system/*.read", "pathling:write");
      assertThat(texts(doc.path("capabilities"))).contains("client-confidential-asymmetric");
    }
  }

  @Test
  void theFhirBasePathIsConfigurableAndAllowedScopesAreAdvertised() throws Exception {
    auth.setFhirBasePath("/r4");
    auth.setAllowedScopes("system/*.rs", "pathling:write");

    assertThat(auth.fhirBaseUrl()).isEqualTo(auth.baseUrl() + "/r4");
    assertThat(get(auth.baseUrl() + "/r4/.well-known/smart-configuration", null).statusCode())
        .isEqualTo(200);
    assertThat(get(auth.baseUrl() + "/fhir/.well-known/smart-configuration", null).statusCode())
        .isEqualTo(404);
    JsonNode doc = JSON.readTree(get(auth.smartConfigurationUrl(), null).body());
    assertThat(texts(doc.path("scopes_supported")))
        .containsExactly("system/*.rs", "pathling:write");
  }

  // ---------------------------------------------------------------- client secrets

  @Test
  void clientSecretBasicSucceedsWithFormEncodedCredentials() throws Exception {
    HttpResponse<String> response = postToken(
        form("grant_type", "client_credentials", "scope", "system/*.read  pathling:write"),
        basic("relay", "s3:cr+t%/ é"));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Cache-Control")).hasValue("no-store");
    JsonNode body = JSON.readTree(response.body());
    String token = body.path("access_token").asText();
    assertThat(token).hasSizeGreaterThan(20);
    assertThat(body.path("token_type").asText()).isEqualTo("bearer");
    assertThat(body.path("expires_in").asLong()).isEqualTo(300);
    assertThat(body.path("scope").asText()).isEqualTo("system/*.read pathling:write");

    assertThat(auth.isValid(token)).isTrue();
    assertThat(auth.validToken(token, "pathling:write:Patient")).isTrue();
    assertThat(auth.validToken(token, "system/Patient.rs")).isTrue();
    assertThat(auth.validToken(token, "system/Patient.write")).isFalse();
    assertThat(auth.issuedTokens()).singleElement().satisfies(issued -> {
      assertThat(issued.value()).isEqualTo(token);
      assertThat(issued.clientId()).isEqualTo("relay");
      assertThat(issued.authMethod()).isEqualTo(AuthMethod.CLIENT_SECRET_BASIC);
      assertThat(issued.scopes()).containsExactly("system/*.read", "pathling:write");
      assertThat(Duration.between(issued.issuedAt(), issued.expiresAt()))
          .isEqualTo(Duration.ofSeconds(300));
    });
    assertThat(auth.tokenRequests()).singleElement().satisfies(r -> {
      assertThat(r.succeeded()).isTrue();
      assertThat(r.clientId()).isEqualTo("relay");
      assertThat(r.authMethod()).isEqualTo(AuthMethod.CLIENT_SECRET_BASIC);
      assertThat(r.requestedScope()).isEqualTo("system/*.read  pathling:write");
      assertThat(r.accessToken()).isEqualTo(token);
    });
  }

  @Test
  void clientSecretPostSucceeds() throws Exception {
    HttpResponse<String> response = postToken(form("grant_type", "client_credentials",
        "client_id", "relay", "client_secret", "s3:cr+t%/ é", "scope", "system/*.read"), null);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(auth.tokenRequests()).singleElement()
        .extracting(TokenRequest::authMethod).isEqualTo(AuthMethod.CLIENT_SECRET_POST);
  }

  @Test
  void aWrongSecretIs401InvalidClientWithTheReason() throws Exception {
    HttpResponse<String> viaBasic = postToken(form("grant_type", "client_credentials"),
        basic("relay", "nope"));
    HttpResponse<String> viaPost = postToken(form("grant_type", "client_credentials",
        "client_id", "relay", "client_secret", "nope"), null);
    // The raw secret in Basic, not form-url-encoded: '+' decodes to a space, '%/' is malformed.
    HttpResponse<String> unencoded = postToken(form("grant_type", "client_credentials"),
        "Basic " + Base64.getEncoder().encodeToString(
            "relay:s3:cr+t%/ é".getBytes(StandardCharsets.UTF_8)));

    assertError(viaBasic, 401, "invalid_client", "Wrong client secret for client 'relay'");
    assertThat(viaBasic.headers().firstValue("WWW-Authenticate"))
        .hasValue("Basic realm=\"fake-auth\"");
    assertError(viaPost, 401, "invalid_client", "Wrong client secret for client 'relay'");
    assertThat(unencoded.statusCode()).isEqualTo(401);
    assertThat(auth.failureReasons()).hasSize(3).first().asString()
        .isEqualTo("Wrong client secret for client 'relay'");
    assertThat(auth.failureReasons().get(2)).startsWith("Malformed HTTP Basic credentials");
    assertThat(auth.tokenRequests()).extracting(TokenRequest::clientId)
        .containsExactly("relay", "relay", null);
    assertThat(auth.issuedTokens()).isEmpty();
  }

  @Test
  void requestErrorsAreRfc6749Json() throws Exception {
    assertError(postToken(form("scope", "x"), basic("relay", "s3:cr+t%/ é")), 400,
        "invalid_request", "Missing grant_type");
    assertError(postToken(form("grant_type", "password"), basic("relay", "s3:cr+t%/ é")), 400,
        "unsupported_grant_type",
        "Unsupported grant_type 'password': only client_credentials is supported");
    assertError(postToken(form("grant_type", "client_credentials"), null), 401,
        "invalid_client",
        "No client authentication: expected HTTP Basic, client_secret or client_assertion");
    assertError(postToken(form("grant_type", "client_credentials", "client_id", "ghost",
        "client_secret", "x"), null), 401, "invalid_client", "Unknown client 'ghost'");
    assertError(postToken(form("grant_type", "client_credentials", "client_id", "relay",
        "client_secret", "s3:cr+t%/ é"), basic("relay", "s3:cr+t%/ é")), 400, "invalid_request",
        "More than one client authentication method (HTTP Basic, client_secret, "
            + "client_assertion) was used");
    assertError(postToken(form("grant_type", "client_credentials", "client_id", "relay-rsa",
        "client_secret", "x"), null), 401, "invalid_client",
        "Client 'relay-rsa' has no client secret (it is registered for private_key_jwt), so "
            + "client_secret_post cannot succeed");

    HttpResponse<String> json = http.send(HttpRequest.newBuilder(URI.create(auth.tokenEndpoint()))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertError(json, 400, "invalid_request",
        "Content-Type must be application/x-www-form-urlencoded, was application/json");
  }

  @Test
  void allowedScopesRestrictTheGrant() throws Exception {
    auth.setAllowedScopes("system/*.rs", "pathling:write");

    assertError(postToken(form("grant_type", "client_credentials", "scope",
        "system/Patient.read system/*.write"), basic("relay", "s3:cr+t%/ é")), 400,
        "invalid_scope",
        "Scope 'system/*.write' is not allowed (allowed: system/*.rs pathling:write)");
    HttpResponse<String> covered = postToken(form("grant_type", "client_credentials", "scope",
        "system/Patient.read pathling:write"), basic("relay", "s3:cr+t%/ é"));
    HttpResponse<String> unscoped = postToken(form("grant_type", "client_credentials"),
        basic("relay", "s3:cr+t%/ é"));

    assertThat(JSON.readTree(covered.body()).path("scope").asText())
        .isEqualTo("system/Patient.read pathling:write");
    assertThat(JSON.readTree(unscoped.body()).path("scope").asText())
        .isEqualTo("system/*.rs pathling:write");
  }

  // ---------------------------------------------------------------- private_key_jwt

  @Test
  void privateKeyJwtSucceedsWithRs384AndEs384() throws Exception {
    HttpResponse<String> withRsa = postToken(assertionForm(
        assertion(rsa, JWSAlgorithm.RS384, "relay-rsa", UnaryOperator.identity()),
        "system/*.read"), null);
    HttpResponse<String> withEc = postToken(assertionForm(
        assertion(ec, JWSAlgorithm.ES384, "relay-ec", UnaryOperator.identity()),
        "system/*.read"), null);

    assertThat(withRsa.statusCode()).as(withRsa.body()).isEqualTo(200);
    assertThat(withEc.statusCode()).as(withEc.body()).isEqualTo(200);
    assertThat(auth.issuedTokens()).extracting(IssuedToken::clientId, IssuedToken::authMethod)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("relay-rsa", AuthMethod.PRIVATE_KEY_JWT),
            org.assertj.core.groups.Tuple.tuple("relay-ec", AuthMethod.PRIVATE_KEY_JWT));
    assertThat(auth.isValid(JSON.readTree(withEc.body()).path("access_token").asText())).isTrue();
  }

  @Test
  void aSignatureByAnotherKeyFails() throws Exception {
    assertJwtFailure(assertion(impostor, JWSAlgorithm.RS384, "relay-rsa",
        UnaryOperator.identity()),
        "client_assertion signature does not verify with the registered key 'k1' of client "
            + "'relay-rsa'");
  }

  @Test
  void aWrongAudienceFails() throws Exception {
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS384, "relay-rsa",
        claims -> claims.audience(auth.fhirBaseUrl())),
        "client_assertion aud '" + auth.fhirBaseUrl() + "' is not the token endpoint "
            + auth.tokenEndpoint());
  }

  @Test
  void anExpiredAssertionFails() throws Exception {
    assertJwtFailure(assertion(ec, JWSAlgorithm.ES384, "relay-ec",
        claims -> claims.expirationTime(Date.from(Instant.now().minusSeconds(60)))),
        "client_assertion expired: exp ");
  }

  @Test
  void anAssertionLivingLongerThanFiveMinutesFails() throws Exception {
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS384, "relay-rsa",
        claims -> claims.expirationTime(Date.from(Instant.now().plusSeconds(600)))),
        "is more than 5 minutes in the future");
  }

  @Test
  void aReplayedJtiFails() throws Exception {
    String once = assertion(rsa, JWSAlgorithm.RS384, "relay-rsa", UnaryOperator.identity());
    String jti = SignedJWT.parse(once).getJWTClaimsSet().getJWTID();

    assertThat(postToken(assertionForm(once, "system/*.read"), null).statusCode()).isEqualTo(200);
    assertJwtFailure(once, "client_assertion jti '" + jti + "' was already used (replay)");
  }

  @Test
  void headerAndIdentityChecksFailWithClearReasons() throws Exception {
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS256, "relay-rsa", UnaryOperator.identity()),
        "client_assertion alg RS256 is not supported: use RS384 or ES384");
    assertJwtFailure(sign(rsa, new JWSHeader.Builder(JWSAlgorithm.RS384).keyID("k1").build(),
        claims("relay-rsa").build()), "client_assertion header typ must be JWT, was absent");
    assertJwtFailure(sign(rsa, new JWSHeader.Builder(JWSAlgorithm.RS384)
        .type(JOSEObjectType.JWT).build(), claims("relay-rsa").build()),
        "client_assertion header has no kid");
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS384, "relay-rsa",
        claims -> claims.subject("someone-else")),
        "client_assertion iss 'relay-rsa' and sub 'someone-else' must both be the client id");
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS384, "ghost", UnaryOperator.identity()),
        "Unknown client 'ghost'");
    assertJwtFailure(assertion(ec, JWSAlgorithm.ES384, "relay-rsa", UnaryOperator.identity()),
        "client_assertion kid 'e1' matches no registered key of client 'relay-rsa' "
            + "(registered: 'k1')");
    assertJwtFailure(assertion(rsa, JWSAlgorithm.RS384, "relay-rsa",
        claims -> claims.jwtID(null)), "client_assertion has no jti");
    assertError(postToken(form("grant_type", "client_credentials", "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "client_assertion", "x"),
        null), 400, "invalid_request",
        "Unsupported client_assertion_type 'urn:ietf:params:oauth:client-assertion-type:"
            + "saml2-bearer' (expected " + FakeAuthServer.CLIENT_ASSERTION_TYPE + ")");

    // A lenient server takes an assertion without typ and kid.
    auth.setStrictAssertionHeaders(false);
    assertThat(postToken(assertionForm(sign(rsa, new JWSHeader.Builder(JWSAlgorithm.RS384)
        .build(), claims("relay-rsa").build()), null), null).statusCode()).isEqualTo(200);
  }

  // ---------------------------------------------------------------- knobs

  @Test
  void injectedFailuresComeWithRetryAfterAndUseUpNothing() throws Exception {
    auth.failNextTokenRequests(2, 503);
    String assertion = assertion(rsa, JWSAlgorithm.RS384, "relay-rsa", UnaryOperator.identity());

    HttpResponse<String> first = postToken(assertionForm(assertion, null), null);
    HttpResponse<String> second = postToken(assertionForm(assertion, null), null);
    HttpResponse<String> third = postToken(assertionForm(assertion, null), null);

    assertError(first, 503, "temporarily_unavailable", "Injected failure (HTTP 503)");
    assertThat(first.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(second.statusCode()).isEqualTo(503);
    assertThat(third.statusCode()).as("the jti was not used up").isEqualTo(200);
    assertThat(auth.tokenRequests()).extracting(TokenRequest::status)
        .containsExactly(503, 503, 200);
  }

  @Test
  void tokensExpireAfterTheConfiguredLifetime() throws Exception {
    auth.setTokenLifetime(Duration.ofMillis(800));
    HttpResponse<String> response = postToken(form("grant_type", "client_credentials"),
        basic("relay", "s3:cr+t%/ é"));
    String token = JSON.readTree(response.body()).path("access_token").asText();

    assertThat(JSON.readTree(response.body()).path("expires_in").asLong()).isEqualTo(1);
    assertThat(get(fhir.getBaseUrl() + "/Patient/1", token).statusCode()).isNotEqualTo(401);
    await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
        .until(() -> !auth.isValid(token));
    HttpResponse<String> refused = get(fhir.getBaseUrl() + "/Patient/1", token);

    assertThat(refused.statusCode()).isEqualTo(401);
    assertThat(auth.whyInvalid(token, null)).get().asString().startsWith("Bearer token expired at ");
    assertThat(auth.token(token)).get().satisfies(t -> assertThat(t.isExpired()).isTrue());
  }

  @Test
  void resetForgetsTokensButKeepsClients() throws Exception {
    String token = tokenFor("system/*.read");

    auth.reset();

    assertThat(auth.isValid(token)).isFalse();
    assertThat(auth.whyInvalid(token, null)).hasValue(
        "Unknown bearer token (not issued by the fake auth server since its last reset)");
    assertThat(auth.tokenRequests()).isEmpty();
    assertThat(tokenFor("system/*.read")).isNotBlank(); // "relay" is still registered
  }

  @Test
  void coversFollowsPathlingAuthoritiesAndSmartScopes() {
    assertThat(FakeAuthServer.covers("pathling", "pathling:write:Patient")).isTrue();
    assertThat(FakeAuthServer.covers("pathling:write", "pathling:write:Patient")).isTrue();
    assertThat(FakeAuthServer.covers("pathling:write", "pathling:read:Patient")).isFalse();
    assertThat(FakeAuthServer.covers("pathling:write:Patient", "pathling:write")).isFalse();
    assertThat(FakeAuthServer.covers("system/*.read", "system/Patient.rs")).isTrue();
    assertThat(FakeAuthServer.covers("system/*.cruds", "system/Patient.write")).isTrue();
    assertThat(FakeAuthServer.covers("system/Patient.*", "system/Observation.read")).isFalse();
    assertThat(FakeAuthServer.covers("patient/*.read", "system/Patient.read")).isFalse();
  }

  // ---------------------------------------------------------------- RequireBearerToken

  @Nested
  class InAHapiServer {

    @Test
    void acceptsAValidTokenAndRefusesAMissingOne() throws Exception {
      Patient patient = new Patient();
      patient.setId("1");
      patients.store(patient);
      String token = tokenFor("system/*.read");

      HttpResponse<String> ok = get(fhir.getBaseUrl() + "/Patient/1", token);
      HttpResponse<String> missing = get(fhir.getBaseUrl() + "/Patient/1", null);
      HttpResponse<String> otherScheme = http.send(request(fhir.getBaseUrl() + "/Patient/1")
          .header("Authorization", "Basic cmVsYXk6eA==").build(),
          HttpResponse.BodyHandlers.ofString());

      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).contains("\"Patient\"");
      assertThat(missing.statusCode()).isEqualTo(401);
      assertThat(missing.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
      JsonNode outcome = JSON.readTree(missing.body());
      assertThat(outcome.path("resourceType").asText()).isEqualTo("OperationOutcome");
      assertThat(outcome.path("issue").get(0).path("code").asText()).isEqualTo("login");
      assertThat(outcome.path("issue").get(0).path("diagnostics").asText())
          .isEqualTo("Missing bearer token");
      assertThat(otherScheme.statusCode()).isEqualTo(401);
      assertThat(hapiGuard.accepted()).isEqualTo(1);
      assertThat(hapiGuard.rejected()).isEqualTo(2);
      assertThat(hapiGuard.rejections()).first().satisfies(r -> {
        assertThat(r.method()).isEqualTo("GET");
        assertThat(r.path()).isEqualTo("/fhir/Patient/1");
        assertThat(r.status()).isEqualTo(401);
      });
    }

    @Test
    void refusesRevokedAndUnknownTokensAsInvalidToken() throws Exception {
      String token = tokenFor("system/*.read");
      auth.revokeAllTokens();
      String fresh = tokenFor("system/*.read");

      HttpResponse<String> revoked = post(fhir.getBaseUrl() + "/Patient",
          "{\"resourceType\":\"Patient\"}", token);
      HttpResponse<String> unknown = get(fhir.getBaseUrl() + "/Patient/1", "made-up");

      assertThat(revoked.statusCode()).isEqualTo(401);
      assertThat(revoked.headers().firstValue("WWW-Authenticate")).hasValue(
          "Bearer error=\"invalid_token\", error_description=\"Bearer token was revoked\"");
      assertThat(unknown.statusCode()).isEqualTo(401);
      assertThat(unknown.headers().firstValue("WWW-Authenticate")).get().asString()
          .startsWith("Bearer error=\"invalid_token\"");
      assertThat(auth.isValid(fresh)).isTrue();
      assertThat(get(fhir.getBaseUrl() + "/metadata", fresh).statusCode()).isEqualTo(200);
      assertThat(get(fhir.getBaseUrl() + "/Patient/1",
          auth.issueToken("minted", "system/*.read")).statusCode()).isNotEqualTo(401);
      assertThat(hapiGuard.rejectionReasons()).containsExactly("Bearer token was revoked",
          "Unknown bearer token (not issued by the fake auth server since its last reset)");
    }

    @Test
    void letsMetadataAndSmartConfigurationThroughButNotABadToken() throws Exception {
      HttpResponse<String> metadata = get(fhir.getBaseUrl() + "/metadata", null);
      HttpResponse<String> smart = get(fhir.getBaseUrl() + "/.well-known/smart-configuration",
          null);
      HttpResponse<String> metadataWithBadToken = get(fhir.getBaseUrl() + "/metadata", "stale");

      assertThat(metadata.statusCode()).isEqualTo(200);
      assertThat(smart.statusCode()).isEqualTo(200);
      assertThat(JSON.readTree(smart.body()).path("token_endpoint").asText())
          .isEqualTo(auth.tokenEndpoint());
      assertThat(metadataWithBadToken.statusCode()).as("as Spring Security").isEqualTo(401);
      assertThat(hapiGuard.accepted()).isZero();
      assertThat(hapiGuard.rejected()).isEqualTo(1);
    }

    @Test
    void requiringAScopeAnswers403WhenTheGrantDoesNotCoverIt() throws Exception {
      hapiGuard.requiring("pathling:write:Patient");
      try {
        String reader = tokenFor("pathling:read");
        String writer = tokenFor("pathling:write");

        HttpResponse<String> refused = get(fhir.getBaseUrl() + "/Patient/1", reader);
        HttpResponse<String> allowed = get(fhir.getBaseUrl() + "/Patient/1", writer);

        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.headers().firstValue("WWW-Authenticate")).get().asString()
            .startsWith("Bearer error=\"insufficient_scope\"")
            .endsWith("scope=\"pathling:write:Patient\"");
        assertThat(allowed.statusCode()).isNotIn(401, 403);
        assertThat(hapiGuard.rejectionReasons()).containsExactly(
            "Bearer token scope 'pathling:read' does not cover 'pathling:write:Patient'");
      } finally {
        hapiGuard.requiring(null);
      }
    }
  }

  @Nested
  class AsAServletFilter {

    @Test
    void guardsAPlainServlet() throws Exception {
      String token = tokenFor("system/*.read");

      HttpResponse<String> ok = get(plain.getBaseUrl() + "/$export", token);
      HttpResponse<String> missing = post(plain.getBaseUrl() + "/$export", "x".repeat(100_000),
          null);
      HttpResponse<String> smart = get(plain.getBaseUrl() + "/.well-known/smart-configuration",
          null);
      HttpResponse<String> okAgain = get(plain.getBaseUrl() + "/$export", token);

      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).isEqualTo("served /fhir/$export");
      assertThat(missing.statusCode()).isEqualTo(401);
      assertThat(missing.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
      assertThat(smart.statusCode()).isEqualTo(200);
      assertThat(okAgain.statusCode()).isEqualTo(200);
      assertThat(filterGuard.accepted()).isEqualTo(2);
      assertThat(filterGuard.rejected()).isEqualTo(1);
      assertThat(hapiGuard.accepted()).as("each guard counts its own").isZero();
    }

    @Test
    void passesEverythingWhenDisabled() throws Exception {
      filterGuard.setEnabled(false);
      try {
        assertThat(get(plain.getBaseUrl() + "/$export", null).statusCode()).isEqualTo(200);
        assertThat(filterGuard.rejected()).isZero();
      } finally {
        filterGuard.setEnabled(true);
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  private static String tokenFor(String scope) throws Exception {
    HttpResponse<String> response = postToken(
        form("grant_type", "client_credentials", "scope", scope), basic("relay", "s3:cr+t%/ é"));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body()).path("access_token").asText();
  }

  private static void assertJwtFailure(String assertion, String reason) throws Exception {
    int before = auth.tokenRequestCount();
    HttpResponse<String> response = postToken(assertionForm(assertion, "system/*.read"), null);

    assertThat(response.statusCode()).as(response.body()).isEqualTo(401);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("error").asText()).isEqualTo("invalid_client");
    assertThat(body.path("error_description").asText()).contains(reason);
    assertThat(auth.tokenRequests()).hasSize(before + 1).last().satisfies(r -> {
      assertThat(r.succeeded()).isFalse();
      assertThat(r.authMethod()).isEqualTo(AuthMethod.PRIVATE_KEY_JWT);
      assertThat(r.errorDescription()).contains(reason);
    });
  }

  private static void assertError(HttpResponse<String> response, int status, String error,
      String description) throws IOException {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("error").asText()).isEqualTo(error);
    assertThat(body.path("error_description").asText()).isEqualTo(description);
  }

  private static JWTClaimsSet.Builder claims(String clientId) {
    return new JWTClaimsSet.Builder()
        .issuer(clientId)
        .subject(clientId)
        .audience(auth.tokenEndpoint())
        .expirationTime(Date.from(Instant.now().plusSeconds(240)))
        .issueTime(new Date())
        .jwtID(UUID.randomUUID().toString());
  }

  private static String assertion(JWK key, JWSAlgorithm alg, String clientId,
      UnaryOperator<JWTClaimsSet.Builder> customize) throws JOSEException {
    JWSHeader header = new JWSHeader.Builder(alg).keyID(key.getKeyID()).type(JOSEObjectType.JWT)
        .build();
    return sign(key, header, customize.apply(claims(clientId)).build());
  }

  private static String sign(JWK key, JWSHeader header, JWTClaimsSet claims)
      throws JOSEException {
    SignedJWT jwt = new SignedJWT(header, claims);
    jwt.sign(key instanceof RSAKey r ? new RSASSASigner(r) : new ECDSASigner((ECKey) key));
    return jwt.serialize();
  }

  private static Map<String, String> assertionForm(String assertion, String scope) {
    Map<String, String> form = form("grant_type", "client_credentials",
        "client_assertion_type", FakeAuthServer.CLIENT_ASSERTION_TYPE,
        "client_assertion", assertion);
    if (scope != null) {
      form.put("scope", scope);
    }
    return form;
  }

  private static Map<String, String> form(String... pairs) {
    Map<String, String> form = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      form.put(pairs[i], pairs[i + 1]);
    }
    return form;
  }

  private static String basic(String id, String secret) {
    String pair = URLEncoder.encode(id, StandardCharsets.UTF_8) + ":"
        + URLEncoder.encode(secret, StandardCharsets.UTF_8);
    return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
  }

  private static HttpResponse<String> postToken(Map<String, String> form, String authorization)
      throws IOException, InterruptedException {
    String body = form.entrySet().stream()
        .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
            + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&"));
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(auth.tokenEndpoint()))
        .timeout(Duration.ofSeconds(5))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      request.header("Authorization", authorization);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpRequest.Builder request(String url) {
    return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
        .header("Accept", "application/fhir+json");
  }

  private static HttpResponse<String> get(String url, String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder request = request(url).GET();
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String url, String body, String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder request = request(url)
        .header("Content-Type", "application/fhir+json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static List<String> texts(JsonNode array) {
    return java.util.stream.StreamSupport.stream(array.spliterator(), false)
        .map(JsonNode::asText).toList();
  }

  /** A plain servlet answering 200 {@code served <path>} to anything. */
  static final class PlainServer extends BaseJettyServerExtension<PlainServer> {

    @Override
    protected HttpServlet provideServlet() {
      return new HttpServlet() {
        @Override
        protected void service(HttpServletRequest request, HttpServletResponse response)
            throws IOException {
          request.getInputStream().readAllBytes();
          byte[] body = ("served " + request.getRequestURI()).getBytes(StandardCharsets.UTF_8);
          response.setStatus(200);
          response.setContentType("text/plain;charset=utf-8");
          response.getOutputStream().write(body);
        }
      };
    }
  }
}
