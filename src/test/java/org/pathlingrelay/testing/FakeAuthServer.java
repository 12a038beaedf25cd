package org.pathlingrelay.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A fake OAuth2 authorization server for the {@code client_credentials} grant, with SMART Backend
 * Services ({@code private_key_jwt}) and client-secret authentication, over real HTTP on its own
 * port. It issues random opaque access tokens and remembers them, so resource-server fakes can
 * check them with {@link RequireBearerToken} (or {@link #isValid}/{@link #validToken}).
 *
 * <h2>Registering it</h2>
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakeAuthServer auth = new FakeAuthServer();
 *
 * static final RSAKey KEY = ...;   // new RSAKeyGenerator(2048).keyID("k1").generate()
 *
 * @BeforeAll
 * static void clients() {
 *   auth.registerSecretClient("relay", "s3cret");
 *   auth.registerJwkClient("relay-jwt", KEY.toPublicJWK());
 * }
 *
 * @Test
 * void getsAToken() {
 *   // point the code under test at auth.tokenEndpoint() (http://localhost:P/token) or let it
 *   // discover it from auth.fhirBaseUrl() + "/.well-known/smart-configuration"
 *   assertThat(auth.tokenRequests()).singleElement().satisfies(r -> assertThat(r.succeeded()).isTrue());
 * }
 * }</pre>
 *
 * <p>Use a {@code static} field: the server starts once before the class's {@code @BeforeAll}
 * methods, keeps its port for the class, is {@linkplain #reset() reset} (and brought back up if a
 * test left it down) before every test, and stops after the class. {@link #reset()} forgets tokens,
 * requests, used {@code jti}s and knobs but <em>keeps registered clients</em>, so clients may be
 * registered once in {@code @BeforeAll} ({@link #clearClients()} drops them).
 *
 * <h2>Endpoints (base {@code http://localhost:PORT})</h2>
 *
 * <ul>
 *   <li>{@code GET /.well-known/smart-configuration} and {@code GET
 *       [fhirBasePath]/.well-known/smart-configuration} ({@link #setFhirBasePath}, default {@code
 *       /fhir}, so {@link #fhirBaseUrl()} can stand for a FHIR server's base during discovery):
 *       {@code issuer}, {@code token_endpoint}, {@code token_endpoint_auth_methods_supported}
 *       ({@code private_key_jwt}, {@code client_secret_basic}, {@code client_secret_post}),
 *       {@code token_endpoint_auth_signing_alg_values_supported} ({@code RS384}, {@code ES384}),
 *       {@code grant_types_supported} ({@code client_credentials}), {@code scopes_supported},
 *       {@code capabilities}, {@code code_challenge_methods_supported}. {@link
 *       RequireBearerToken} serves the same document under the resource server's base.
 *   <li>{@code POST /token}, {@code application/x-www-form-urlencoded}: {@code
 *       grant_type=client_credentials}, optional {@code scope}, and exactly one client
 *       authentication:
 *       <ul>
 *         <li>{@code client_secret_basic}: {@code Authorization: Basic base64(enc(id):enc(secret))}
 *             where {@code enc} is form-url-encoding (RFC 6749 §2.3.1; the fake decodes it, so a
 *             client that does not encode a secret holding {@code +} or {@code %} fails);
 *         <li>{@code client_secret_post}: {@code client_id} and {@code client_secret} fields;
 *         <li>{@code private_key_jwt} (SMART Backend Services): {@code
 *             client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer} and
 *             {@code client_assertion}, a JWS whose header has {@code alg} RS384 or ES384, {@code
 *             typ} {@code JWT} and a {@code kid} (the last two: {@link
 *             #setStrictAssertionHeaders}), signed by a key registered with {@link
 *             #registerJwkClient}; claims {@code iss} = {@code sub} = client id, {@code aud} =
 *             {@link #tokenEndpoint()} exactly, {@code exp} in the future and at most five minutes
 *             ahead (plus {@value #EXP_LEEWAY_SECONDS} s of leeway for rounding), {@code nbf} (if
 *             any) not in the future, {@code jti} never seen before for that client.
 *       </ul>
 *       The checks run in the order above (signature before claims), and the first failure is
 *       the answer. Success: 200 {@code {"access_token", "token_type": "bearer", "expires_in",
 *       "scope"}} ({@code scope} omitted when nothing was granted) with {@code Cache-Control:
 *       no-store}. Errors are RFC 6749 §5.2 JSON {@code {"error", "error_description"}}: 400
 *       {@code invalid_request} / {@code unsupported_grant_type} / {@code invalid_scope}, 401
 *       {@code invalid_client} (with {@code WWW-Authenticate: Basic realm="fake-auth"} when the
 *       client used HTTP Basic). The error descriptions are listed in the tests and in
 *       {@link #failureReasons()}.
 * </ul>
 *
 * <p>Scopes: the requested scope is granted as asked (whitespace-normalised), unless {@link
 * #setAllowedScopes} restricts it: then every requested scope must be covered by an allowed one
 * (see {@link #covers}) or the request fails with {@code invalid_scope}; no {@code scope} then
 * grants all allowed scopes. Tokens live for {@link #setTokenLifetime} (default 300 s; {@code
 * expires_in} is that in whole seconds, rounded up).
 *
 * <p>All knobs and inspection methods are thread-safe; records are added before the answer is
 * sent.
 */
public final class FakeAuthServer extends FakeServer {

  public static final String CLIENT_ASSERTION_TYPE =
      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofSeconds(300);
  /** SMART: a client assertion's {@code exp} must be no more than five minutes in the future. */
  public static final Duration MAX_ASSERTION_LIFETIME = Duration.ofMinutes(5);
  /** Slack on the five-minute rule, for clients that round {@code exp} up to whole seconds. */
  static final long EXP_LEEWAY_SECONDS = 5;

  /** What {@code scopes_supported} lists while any scope is allowed. */
  public static final List<String> DEFAULT_SCOPES_SUPPORTED = List.of(
      "system/*.read", "system/*.write", "system/*.rs", "system/*.cruds",
      "pathling", "pathling:read", "pathling:write", "pathling:update", "pathling:batch",
      "pathling:delete", "pathling:import", "pathling:import-pnp");

  private static final String TOKEN_PATH = "/token";
  private static final String SMART_CONFIGURATION = "/.well-known/smart-configuration";
  private static final String JSON_TYPE = "application/json;charset=UTF-8";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.RS384, JWSAlgorithm.ES384);

  /** How a client authenticated at the token endpoint (RFC 7591 names). */
  public enum AuthMethod {
    CLIENT_SECRET_BASIC("client_secret_basic"),
    CLIENT_SECRET_POST("client_secret_post"),
    PRIVATE_KEY_JWT("private_key_jwt"),
    /** No (recognisable) client authentication was sent. */
    NONE("none");

    private final String wireName;

    AuthMethod(String wireName) {
      this.wireName = wireName;
    }

    /** The name used in {@code token_endpoint_auth_methods_supported}. */
    public String wireName() {
      return wireName;
    }
  }

  /**
   * One request to the token endpoint. {@code clientId} is who the client claimed to be (null when
   * it could not be told); {@code error}/{@code errorDescription} are null on success, and {@code
   * accessToken}/{@code grantedScope} null on failure.
   */
  public record TokenRequest(
      Instant at,
      String grantType,
      String clientId,
      AuthMethod authMethod,
      String requestedScope,
      int status,
      String error,
      String errorDescription,
      String grantedScope,
      String accessToken) {

    public boolean succeeded() {
      return status == 200;
    }
  }

  /** A snapshot of an issued access token. */
  public record IssuedToken(
      String value,
      String clientId,
      AuthMethod authMethod,
      String scope,
      Instant issuedAt,
      Instant expiresAt,
      boolean revoked) {

    /** The granted scopes, split on spaces. */
    public Set<String> scopes() {
      return splitScope(scope);
    }

    public boolean isExpired() {
      return !Instant.now().isBefore(expiresAt);
    }

    public boolean isValid() {
      return !revoked && !isExpired();
    }
  }

  /** A token endpoint failure: HTTP status, RFC 6749 error code and the description. */
  private static final class TokenError extends Exception {

    final int status;
    final String error;

    TokenError(int status, String error, String description) {
      super(description, null, false, false);
      this.status = status;
      this.error = error;
    }

    static TokenError invalidRequest(String description) {
      return new TokenError(400, "invalid_request", description);
    }

    static TokenError invalidClient(String description) {
      return new TokenError(401, "invalid_client", description);
    }
  }

  private record Client(String id, String secret, List<JWK> keys) {}

  private static final class TokenState {
    final String value;
    final String clientId;
    final AuthMethod method;
    final String scope;
    final Instant issuedAt;
    final Instant expiresAt;
    volatile boolean revoked;

    TokenState(String value, String clientId, AuthMethod method, String scope, Instant issuedAt,
        Instant expiresAt) {
      this.value = value;
      this.clientId = clientId;
      this.method = method;
      this.scope = scope;
      this.issuedAt = issuedAt;
      this.expiresAt = expiresAt;
    }

    IssuedToken snapshot() {
      return new IssuedToken(value, clientId, method, scope, issuedAt, expiresAt, revoked);
    }
  }

  private final JettyServer server = new JettyServer();

  private final ConcurrentMap<String, Client> clients = new ConcurrentHashMap<>();
  /** Issued tokens by value; {@link #tokenOrder} keeps the issue order. */
  private final ConcurrentMap<String, TokenState> tokens = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<TokenState> tokenOrder = new ConcurrentLinkedQueue<>();
  /** {@code clientId + " " + jti} of every accepted client assertion. */
  private final Set<String> usedJtis = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedQueue<TokenRequest> requests = new ConcurrentLinkedQueue<>();
  /** Guards created for this server; {@link #reset()} resets their counters too. */
  private final List<RequireBearerToken> guards = new CopyOnWriteArrayList<>();

  private final InjectedFailures failures = new InjectedFailures();

  private volatile Duration tokenLifetime = DEFAULT_TOKEN_LIFETIME;
  private volatile List<String> allowedScopes = null; // null: any scope
  private volatile String fhirBasePath = "/fhir";
  private volatile boolean strictAssertionHeaders = true;

  public FakeAuthServer() {
    super("fake auth server");
    server.keepAliveBetweenTests();
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  @Override
  Restartable server() {
    return server;
  }

  // ---------------------------------------------------------------- addresses

  /** {@code baseUrl() + "/token"}: the only {@code aud} a client assertion may carry. */
  public String tokenEndpoint() {
    return baseUrl() + TOKEN_PATH;
  }

  /**
   * {@code baseUrl() + fhirBasePath}, e.g. {@code http://localhost:41234/fhir}: a "FHIR base"
   * whose {@code .well-known/smart-configuration} this server answers (nothing else under it).
   */
  public String fhirBaseUrl() {
    return baseUrl() + fhirBasePath;
  }

  /** Where the document is served at the root: {@code baseUrl() + "/.well-known/smart-configuration"}. */
  public String smartConfigurationUrl() {
    return baseUrl() + SMART_CONFIGURATION;
  }

  /** The SMART configuration document as JSON, for other fakes to serve. */
  public String smartConfiguration() {
    ObjectNode doc = JSON.createObjectNode();
    doc.put("issuer", baseUrl());
    doc.put("token_endpoint", tokenEndpoint());
    doc.putArray("token_endpoint_auth_methods_supported")
        .add(AuthMethod.PRIVATE_KEY_JWT.wireName())
        .add(AuthMethod.CLIENT_SECRET_BASIC.wireName())
        .add(AuthMethod.CLIENT_SECRET_POST.wireName());
    doc.putArray("token_endpoint_auth_signing_alg_values_supported").add("RS384").add("ES384");
    doc.putArray("grant_types_supported").add("client_credentials");
    List<String> allowed = allowedScopes;
    var scopes = doc.putArray("scopes_supported");
    (allowed == null ? DEFAULT_SCOPES_SUPPORTED : allowed).forEach(scopes::add);
    doc.putArray("capabilities").add("client-confidential-asymmetric")
        .add("client-confidential-symmetric").add("permission-v1").add("permission-v2");
    doc.putArray("code_challenge_methods_supported").add("S256");
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------- clients

  /**
   * Registers (or replaces the secret of) a client that authenticates with {@code
   * client_secret_basic} or {@code client_secret_post}. Kept across {@link #reset()}.
   */
  public void registerSecretClient(String clientId, String secret) {
    Objects.requireNonNull(clientId, "clientId");
    Objects.requireNonNull(secret, "secret");
    clients.compute(clientId, (id, old) ->
        new Client(id, secret, old == null ? List.of() : old.keys()));
  }

  /**
   * Registers (or replaces the keys of) a client that authenticates with {@code private_key_jwt}:
   * an RSA key (RS384) or an EC P-384 key (ES384). A private JWK is reduced to its public part.
   * Kept across {@link #reset()}.
   */
  public void registerJwkClient(String clientId, JWK publicKey) {
    registerJwkClient(clientId, new JWKSet(Objects.requireNonNull(publicKey, "publicKey")));
  }

  /** As {@link #registerJwkClient(String, JWK)} with several keys (e.g. during key rotation). */
  public void registerJwkClient(String clientId, JWKSet publicKeys) {
    Objects.requireNonNull(clientId, "clientId");
    List<JWK> keys = new ArrayList<>();
    for (JWK key : publicKeys.getKeys()) {
      if (key instanceof ECKey ec && !Curve.P_384.equals(ec.getCurve())) {
        throw new IllegalArgumentException("EC keys must be on P-384 (ES384), not " + ec.getCurve());
      }
      if (!(key instanceof RSAKey) && !(key instanceof ECKey)) {
        throw new IllegalArgumentException("Only RSA and EC P-384 keys, not " + key.getKeyType());
      }
      keys.add(key.toPublicJWK());
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("No keys for client " + clientId);
    }
    clients.compute(clientId, (id, old) ->
        new Client(id, old == null ? null : old.secret(), List.copyOf(keys)));
  }

  /**
   * Mints a token directly, without HTTP and without a token request record (method {@link
   * AuthMethod#NONE}), e.g. to hand a test client a token for a guarded fake. The client need not
   * be registered; the scope is taken as given; the lifetime is {@link #setTokenLifetime}'s.
   */
  public String issueToken(String clientId, String scope) {
    return store(Objects.requireNonNull(clientId, "clientId"), AuthMethod.NONE,
        String.join(" ", splitScope(scope)), Instant.now()).value();
  }

  /** Forgets every registered client. */
  public void clearClients() {
    clients.clear();
  }

  // ---------------------------------------------------------------- knobs

  /** How long issued tokens live (default 300 s); {@code expires_in} is this, rounded up. */
  public void setTokenLifetime(Duration lifetime) {
    Objects.requireNonNull(lifetime, "lifetime");
    if (lifetime.isNegative()) {
      throw new IllegalArgumentException("lifetime must not be negative");
    }
    tokenLifetime = lifetime;
  }

  /**
   * Restricts the grantable scopes: each requested scope must be covered by one of these (see
   * {@link #covers}), else 400 {@code invalid_scope}. Also what {@code scopes_supported} lists.
   */
  public void setAllowedScopes(String... scopes) {
    allowedScopes = List.of(scopes);
  }

  /** Any requested scope is granted (the default). */
  public void allowAnyScope() {
    allowedScopes = null;
  }

  /**
   * The next {@code count} token requests answer {@code status} with {@code
   * {"error":"temporarily_unavailable"}} (5xx) or {@code {"error":"invalid_request"}} (4xx), and
   * {@code Retry-After: 1} for 429 and 503. Nothing is checked or consumed (no {@code jti} is
   * used up). Replaces any earlier plan.
   */
  public void failNextTokenRequests(int count, int status) {
    failNextTokenRequests(count, status,
        status == 429 || status == 503 ? Duration.ofSeconds(1) : null);
  }

  /** As {@link #failNextTokenRequests(int, int)}, with {@code Retry-After} (whole seconds, rounded up) or none. */
  public void failNextTokenRequests(int count, int status, Duration retryAfter) {
    failures.failNext(count, status, retryAfter);
  }

  /** Every token issued so far becomes invalid (resource servers answer 401); new ones are fine. */
  public void revokeAllTokens() {
    tokens.values().forEach(token -> token.revoked = true);
  }

  /** Revokes one token; false when unknown. */
  public boolean revoke(String token) {
    TokenState state = token == null ? null : tokens.get(token);
    if (state == null) {
      return false;
    }
    state.revoked = true;
    return true;
  }

  /** Where {@link #fhirBaseUrl()} points (default {@code /fhir}; {@code ""} for the root). */
  public void setFhirBasePath(String path) {
    Objects.requireNonNull(path, "path");
    if (!path.isEmpty() && (!path.startsWith("/") || path.endsWith("/"))) {
      throw new IllegalArgumentException("A path like /fhir (or empty), not " + path);
    }
    fhirBasePath = path;
  }

  /**
   * Whether a client assertion's header must carry {@code typ: JWT} and a {@code kid}, as SMART
   * requires (default true). Off: both are optional, and an assertion without {@code kid} is
   * tried against every registered key of the client.
   */
  public void setStrictAssertionHeaders(boolean strict) {
    strictAssertionHeaders = strict;
  }

  /**
   * Forgets issued tokens, token requests, used {@code jti}s, failure plans and knobs (lifetime,
   * allowed scopes, FHIR base path, strictness), and resets the counters of every {@link
   * RequireBearerToken} built for this server. Registered clients stay.
   */
  public void reset() {
    tokens.clear();
    tokenOrder.clear();
    usedJtis.clear();
    requests.clear();
    failures.clear();
    tokenLifetime = DEFAULT_TOKEN_LIFETIME;
    allowedScopes = null;
    fhirBasePath = "/fhir";
    strictAssertionHeaders = true;
    guards.forEach(RequireBearerToken::reset);
  }

  // ---------------------------------------------------------------- inspection

  /** Every token request since the last reset, in arrival order. */
  public List<TokenRequest> tokenRequests() {
    return List.copyOf(requests);
  }

  public int tokenRequestCount() {
    return requests.size();
  }

  /** The {@code error_description} of every failed token request, in arrival order. */
  public List<String> failureReasons() {
    return requests.stream().filter(r -> !r.succeeded()).map(TokenRequest::errorDescription)
        .toList();
  }

  /** Snapshots of every token issued since the last reset, in issue order. */
  public List<IssuedToken> issuedTokens() {
    return tokenOrder.stream().map(TokenState::snapshot).toList();
  }

  /** A snapshot of the token, if this server issued it since the last reset. */
  public Optional<IssuedToken> token(String token) {
    return Optional.ofNullable(token == null ? null : tokens.get(token)).map(TokenState::snapshot);
  }

  /** Issued here, not revoked, not expired. */
  public boolean isValid(String token) {
    return whyInvalid(token, null).isEmpty();
  }

  /** {@link #isValid} and its granted scope covers {@code requiredScopeOrAuthority} ({@link #covers}). */
  public boolean validToken(String token, String requiredScopeOrAuthority) {
    return whyInvalid(token, requiredScopeOrAuthority).isEmpty();
  }

  /**
   * Why {@code token} would be refused, or empty if it is fine. {@code required} (nullable) is a
   * scope or Pathling authority the token's grant must cover. The reasons: {@code "Missing bearer
   * token"}, {@code "Unknown bearer token (not issued by the fake auth server since its last
   * reset)"}, {@code "Bearer token was revoked"}, {@code "Bearer token expired at <instant>"},
   * {@code "Bearer token scope '<granted>' does not cover '<required>'"}.
   */
  public Optional<String> whyInvalid(String token, String required) {
    if (token == null || token.isEmpty()) {
      return Optional.of("Missing bearer token");
    }
    TokenState state = tokens.get(token);
    if (state == null) {
      return Optional.of(
          "Unknown bearer token (not issued by the fake auth server since its last reset)");
    }
    if (state.revoked) {
      return Optional.of("Bearer token was revoked");
    }
    if (!Instant.now().isBefore(state.expiresAt)) {
      return Optional.of("Bearer token expired at " + state.expiresAt);
    }
    if (required != null && splitScope(state.scope).stream().noneMatch(g -> covers(g, required))) {
      return Optional.of(
          "Bearer token scope '" + state.scope + "' does not cover '" + required + "'");
    }
    return Optional.empty();
  }

  // ---------------------------------------------------------------- scope matching

  private static final Pattern SMART_SCOPE =
      Pattern.compile("(patient|user|system)/([A-Za-z]+|\\*)\\.(read|write|\\*|c?r?u?d?s?)");

  /**
   * Whether a granted scope covers a required one. Equal strings always do. Pathling authorities:
   * {@code pathling} covers every {@code pathling:...}; {@code pathling:X} covers {@code
   * pathling:X:Type} (as Pathling's {@code PathlingAuthority.subsumedBy}). SMART scopes {@code
   * context/Type.permissions}: same context, type equal or granted {@code *}, and the required
   * permissions a subset of the granted ones, where {@code read} = {@code rs}, {@code write} =
   * {@code cud} and {@code *} = {@code cruds} (v1 and v2 mix freely). Query-qualified v2 scopes
   * ({@code ?category=...}) match only exactly.
   */
  public static boolean covers(String granted, String required) {
    if (granted.equals(required)) {
      return true;
    }
    if (granted.startsWith("pathling") && required.startsWith("pathling:")) {
      if (granted.equals("pathling")) {
        return true;
      }
      return required.startsWith(granted + ":") && granted.chars().filter(c -> c == ':').count() == 1;
    }
    Matcher g = SMART_SCOPE.matcher(granted);
    Matcher r = SMART_SCOPE.matcher(required);
    if (!g.matches() || !r.matches() || g.group(3).isEmpty() || r.group(3).isEmpty()) {
      return false;
    }
    return g.group(1).equals(r.group(1))
        && (g.group(2).equals("*") || g.group(2).equals(r.group(2)))
        && permissions(g.group(3)).containsAll(permissions(r.group(3)));
  }

  private static Set<Character> permissions(String code) {
    String letters = switch (code) {
      case "read" -> "rs";
      case "write" -> "cud";
      case "*" -> "cruds";
      default -> code;
    };
    return letters.chars().mapToObj(c -> (char) c).collect(Collectors.toSet());
  }

  private static Set<String> splitScope(String scope) {
    if (scope == null || scope.isBlank()) {
      return Set.of();
    }
    return new LinkedHashSet<>(List.of(scope.trim().split("\\s+")));
  }

  // ---------------------------------------------------------------- token endpoint

  void addGuard(RequireBearerToken guard) {
    guards.add(guard);
  }

  /** What a token request turned out to be, filled in as the checks proceed. */
  private static final class Attempt {
    String grantType;
    String clientId;
    AuthMethod method = AuthMethod.NONE;
    String requestedScope;
  }

  private void handleToken(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    Instant at = Instant.now();
    byte[] body = request.getInputStream().readAllBytes();
    Attempt attempt = new Attempt();
    Optional<InjectedFailures.Failure> injected = failures.take();
    if (injected.isPresent()) {
      InjectedFailures.Failure plan = injected.get();
      String description = "Injected failure (HTTP " + plan.status() + ")";
      requests.add(new TokenRequest(at, null, null, AuthMethod.NONE, null, plan.status(),
          plan.status() >= 500 ? "temporarily_unavailable" : "invalid_request", description,
          null, null));
      Map<String, String> headers = new LinkedHashMap<>();
      plan.retryAfterHeader().ifPresent(seconds -> headers.put("Retry-After", seconds));
      writeJson(response, plan.status(), error(
          plan.status() >= 500 ? "temporarily_unavailable" : "invalid_request", description),
          headers);
      return;
    }
    try {
      IssuedToken issued = issue(request, body, attempt, at);
      requests.add(new TokenRequest(at, attempt.grantType, attempt.clientId, attempt.method,
          attempt.requestedScope, 200, null, null, issued.scope(), issued.value()));
      ObjectNode ok = JSON.createObjectNode();
      ok.put("access_token", issued.value());
      ok.put("token_type", "bearer");
      ok.put("expires_in", (tokenLifetimeOf(issued).toMillis() + 999) / 1000);
      if (!issued.scope().isEmpty()) {
        ok.put("scope", issued.scope());
      }
      writeJson(response, 200, ok, Map.of());
    } catch (TokenError e) {
      requests.add(new TokenRequest(at, attempt.grantType, attempt.clientId, attempt.method,
          attempt.requestedScope, e.status, e.error, e.getMessage(), null, null));
      Map<String, String> headers = e.status == 401 && attempt.method == AuthMethod.CLIENT_SECRET_BASIC
          ? Map.of("WWW-Authenticate", "Basic realm=\"fake-auth\"")
          : Map.of();
      writeJson(response, e.status, error(e.error, e.getMessage()), headers);
    }
  }

  private static Duration tokenLifetimeOf(IssuedToken token) {
    return Duration.between(token.issuedAt(), token.expiresAt());
  }

  private IssuedToken issue(HttpServletRequest request, byte[] body, Attempt attempt, Instant now)
      throws TokenError {
    String contentType = request.getContentType();
    if (contentType == null || !contentType.toLowerCase(Locale.ROOT).trim()
        .startsWith("application/x-www-form-urlencoded")) {
      throw TokenError.invalidRequest(
          "Content-Type must be application/x-www-form-urlencoded, was " + contentType);
    }
    Map<String, String> form = parseForm(new String(body, StandardCharsets.UTF_8));
    attempt.grantType = form.get("grant_type");
    attempt.requestedScope = form.get("scope");
    attempt.clientId = form.get("client_id");

    String authorization = request.getHeader("Authorization");
    boolean basic = authorization != null
        && authorization.regionMatches(true, 0, "Basic ", 0, 6);
    if (basic) {
      attempt.method = AuthMethod.CLIENT_SECRET_BASIC;
    } else if (form.containsKey("client_assertion") || form.containsKey("client_assertion_type")) {
      attempt.method = AuthMethod.PRIVATE_KEY_JWT;
    } else if (form.containsKey("client_secret")) {
      attempt.method = AuthMethod.CLIENT_SECRET_POST;
    }
    if (basic) {
      // Known before the grant checks, so failures are attributed to the right client.
      attempt.clientId = basicCredentials(authorization)[0];
    }

    if (attempt.grantType == null) {
      throw TokenError.invalidRequest("Missing grant_type");
    }
    if (!attempt.grantType.equals("client_credentials")) {
      throw new TokenError(400, "unsupported_grant_type", "Unsupported grant_type '"
          + attempt.grantType + "': only client_credentials is supported");
    }
    int methods = (basic ? 1 : 0) + (form.containsKey("client_secret") ? 1 : 0)
        + (form.containsKey("client_assertion") ? 1 : 0);
    if (methods > 1) {
      throw TokenError.invalidRequest("More than one client authentication method "
          + "(HTTP Basic, client_secret, client_assertion) was used");
    }

    String clientId = switch (attempt.method) {
      case CLIENT_SECRET_BASIC -> authenticateBasic(authorization, form);
      case CLIENT_SECRET_POST -> authenticatePost(form);
      case PRIVATE_KEY_JWT -> authenticateAssertion(form, attempt, now);
      case NONE -> throw TokenError.invalidClient(attempt.clientId == null
          ? "No client authentication: expected HTTP Basic, client_secret or client_assertion"
          : "No client authentication for client '" + attempt.clientId
              + "': expected HTTP Basic, client_secret or client_assertion");
    };
    attempt.clientId = clientId;

    return store(clientId, attempt.method, grant(attempt.requestedScope), now);
  }

  private IssuedToken store(String clientId, AuthMethod method, String scope, Instant now) {
    TokenState state = new TokenState(newTokenValue(), clientId, method, scope, now,
        now.plus(tokenLifetime));
    tokens.put(state.value, state);
    tokenOrder.add(state);
    return state.snapshot();
  }

  private String grant(String requested) throws TokenError {
    List<String> allowed = allowedScopes;
    Set<String> asked = splitScope(requested);
    if (asked.isEmpty()) {
      return allowed == null ? "" : String.join(" ", allowed);
    }
    if (allowed != null) {
      for (String scope : asked) {
        if (allowed.stream().noneMatch(a -> covers(a, scope))) {
          throw new TokenError(400, "invalid_scope",
              "Scope '" + scope + "' is not allowed (allowed: " + String.join(" ", allowed) + ")");
        }
      }
    }
    return String.join(" ", asked);
  }

  private static String[] basicCredentials(String authorization) throws TokenError {
    String encoded = authorization.substring(6).trim();
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw TokenError.invalidClient("Malformed HTTP Basic credentials: not base64");
    }
    int colon = decoded.indexOf(':');
    if (colon < 0) {
      throw TokenError.invalidClient("Malformed HTTP Basic credentials: no ':' between id and secret");
    }
    try {
      return new String[] {
          URLDecoder.decode(decoded.substring(0, colon), StandardCharsets.UTF_8),
          URLDecoder.decode(decoded.substring(colon + 1), StandardCharsets.UTF_8)};
    } catch (IllegalArgumentException e) {
      throw TokenError.invalidClient("Malformed HTTP Basic credentials: id and secret must be "
          + "form-url-encoded (RFC 6749 section 2.3.1): " + e.getMessage());
    }
  }

  private String authenticateBasic(String authorization, Map<String, String> form)
      throws TokenError {
    String[] credentials = basicCredentials(authorization);
    String clientId = credentials[0];
    String formId = form.get("client_id");
    if (formId != null && !formId.equals(clientId)) {
      throw TokenError.invalidClient("client_id '" + formId
          + "' in the form does not match the HTTP Basic client id '" + clientId + "'");
    }
    checkSecret(clientId, credentials[1], AuthMethod.CLIENT_SECRET_BASIC);
    return clientId;
  }

  private String authenticatePost(Map<String, String> form) throws TokenError {
    String clientId = form.get("client_id");
    if (clientId == null) {
      throw TokenError.invalidClient("client_secret without client_id");
    }
    checkSecret(clientId, form.get("client_secret"), AuthMethod.CLIENT_SECRET_POST);
    return clientId;
  }

  private void checkSecret(String clientId, String secret, AuthMethod method) throws TokenError {
    Client client = clients.get(clientId);
    if (client == null) {
      throw TokenError.invalidClient("Unknown client '" + clientId + "'");
    }
    if (client.secret() == null) {
      throw TokenError.invalidClient("Client '" + clientId + "' has no client secret (it is "
          + "registered for private_key_jwt), so " + method.wireName() + " cannot succeed");
    }
    if (!client.secret().equals(secret)) {
      throw TokenError.invalidClient("Wrong client secret for client '" + clientId + "'");
    }
  }

  private String authenticateAssertion(Map<String, String> form, Attempt attempt, Instant now)
      throws TokenError {
    String type = form.get("client_assertion_type");
    if (type == null) {
      throw TokenError.invalidRequest("Missing client_assertion_type (expected "
          + CLIENT_ASSERTION_TYPE + ")");
    }
    if (!type.equals(CLIENT_ASSERTION_TYPE)) {
      throw TokenError.invalidRequest("Unsupported client_assertion_type '" + type
          + "' (expected " + CLIENT_ASSERTION_TYPE + ")");
    }
    String assertion = form.get("client_assertion");
    if (assertion == null || assertion.isBlank()) {
      throw TokenError.invalidRequest("Missing client_assertion");
    }

    SignedJWT jwt;
    JWTClaimsSet claims;
    try {
      jwt = SignedJWT.parse(assertion);
    } catch (ParseException e) {
      throw TokenError.invalidClient("client_assertion is not a signed JWT: " + e.getMessage());
    }
    try {
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException e) {
      throw TokenError.invalidClient(
          "client_assertion payload is not a valid JWT claims set: " + e.getMessage());
    }
    // Attribute the attempt to the claimed client before anything else can fail.
    if (claims.getIssuer() != null) {
      attempt.clientId = claims.getIssuer();
    }

    JWSAlgorithm alg = jwt.getHeader().getAlgorithm();
    if (!ALGORITHMS.contains(alg)) {
      throw TokenError.invalidClient(
          "client_assertion alg " + alg + " is not supported: use RS384 or ES384");
    }
    JOSEObjectType typ = jwt.getHeader().getType();
    String kid = jwt.getHeader().getKeyID();
    if (strictAssertionHeaders) {
      if (typ == null || !typ.getType().equalsIgnoreCase("JWT")) {
        throw TokenError.invalidClient("client_assertion header typ must be JWT, was "
            + (typ == null ? "absent" : "'" + typ.getType() + "'"));
      }
      if (kid == null || kid.isEmpty()) {
        throw TokenError.invalidClient("client_assertion header has no kid");
      }
    }

    String iss = claims.getIssuer();
    String sub = claims.getSubject();
    if (iss == null) {
      throw TokenError.invalidClient("client_assertion has no iss (it must be the client id)");
    }
    if (!iss.equals(sub)) {
      throw TokenError.invalidClient("client_assertion iss '" + iss + "' and sub '" + sub
          + "' must both be the client id");
    }
    String formId = form.get("client_id");
    if (formId != null && !formId.equals(iss)) {
      throw TokenError.invalidClient("client_id '" + formId
          + "' does not match client_assertion iss '" + iss + "'");
    }
    Client client = clients.get(iss);
    if (client == null) {
      throw TokenError.invalidClient("Unknown client '" + iss + "'");
    }
    if (client.keys().isEmpty()) {
      throw TokenError.invalidClient("Client '" + iss + "' has no registered public key (it is "
          + "registered for a client secret), so private_key_jwt cannot succeed");
    }

    List<JWK> byKid = client.keys().stream()
        .filter(k -> k.getKeyID() == null || kid == null || k.getKeyID().equals(kid))
        .toList();
    if (byKid.isEmpty()) {
      throw TokenError.invalidClient("client_assertion kid '" + kid
          + "' matches no registered key of client '" + iss + "' (registered: "
          + keyIds(client.keys()) + ")");
    }
    List<JWK> fitting = byKid.stream().filter(k -> fits(k, alg)).toList();
    if (fitting.isEmpty()) {
      throw TokenError.invalidClient("client_assertion alg " + alg + " needs "
          + (alg.equals(JWSAlgorithm.RS384) ? "an RSA key" : "an EC P-384 key")
          + ", but the registered key " + keyIds(byKid) + " of client '" + iss + "' is "
          + byKid.stream().map(k -> k.getKeyType().getValue()).distinct()
              .collect(Collectors.joining("/")));
    }
    boolean verified = false;
    for (JWK key : fitting) {
      try {
        JWSVerifier verifier = key instanceof RSAKey rsa
            ? new RSASSAVerifier(rsa)
            : new ECDSAVerifier((ECKey) key);
        if (jwt.verify(verifier)) {
          verified = true;
          break;
        }
      } catch (JOSEException e) {
        // try the next key; reported as a failed signature
      }
    }
    if (!verified) {
      throw TokenError.invalidClient("client_assertion signature does not verify with the "
          + "registered key " + keyIds(fitting) + " of client '" + iss + "'");
    }

    List<String> aud = claims.getAudience();
    if (aud == null || aud.isEmpty()) {
      throw TokenError.invalidClient(
          "client_assertion has no aud (it must be the token endpoint " + tokenEndpoint() + ")");
    }
    if (!aud.contains(tokenEndpoint())) {
      throw TokenError.invalidClient("client_assertion aud " + (aud.size() == 1
          ? "'" + aud.get(0) + "'" : aud.toString()) + " is not the token endpoint "
          + tokenEndpoint());
    }
    Date exp = claims.getExpirationTime();
    if (exp == null) {
      throw TokenError.invalidClient("client_assertion has no exp");
    }
    Instant expiry = exp.toInstant();
    if (!expiry.isAfter(now)) {
      throw TokenError.invalidClient(
          "client_assertion expired: exp " + expiry + " is not after now (" + now + ")");
    }
    Instant latest = now.plus(MAX_ASSERTION_LIFETIME).plusSeconds(EXP_LEEWAY_SECONDS);
    if (expiry.isAfter(latest)) {
      throw TokenError.invalidClient("client_assertion exp " + expiry
          + " is more than 5 minutes in the future (now " + now + ")");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && nbf.toInstant().isAfter(now.plusSeconds(EXP_LEEWAY_SECONDS))) {
      throw TokenError.invalidClient(
          "client_assertion is not valid yet: nbf " + nbf.toInstant() + " (now " + now + ")");
    }
    String jti = claims.getJWTID();
    if (jti == null || jti.isEmpty()) {
      throw TokenError.invalidClient("client_assertion has no jti");
    }
    if (!usedJtis.add(iss + " " + jti)) {
      throw TokenError.invalidClient(
          "client_assertion jti '" + jti + "' was already used (replay)");
    }
    return iss;
  }

  private static boolean fits(JWK key, JWSAlgorithm alg) {
    if (alg.equals(JWSAlgorithm.RS384)) {
      return key instanceof RSAKey;
    }
    return key instanceof ECKey ec && Curve.P_384.equals(ec.getCurve());
  }

  private static String keyIds(Collection<JWK> keys) {
    return keys.stream().map(k -> k.getKeyID() == null ? "(no kid)" : "'" + k.getKeyID() + "'")
        .collect(Collectors.joining(", "));
  }

  private static String newTokenValue() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** Parses a form body; a repeated parameter fails (RFC 6749 §3.2). */
  private static Map<String, String> parseForm(String body) throws TokenError {
    Map<String, String> form = new LinkedHashMap<>();
    if (body.isBlank()) {
      return form;
    }
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name;
      String value;
      try {
        name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw TokenError.invalidRequest("Malformed form body: " + e.getMessage());
      }
      if (form.put(name, value) != null) {
        throw TokenError.invalidRequest("Parameter " + name + " was sent more than once");
      }
    }
    return form;
  }

  private static ObjectNode error(String error, String description) {
    ObjectNode node = JSON.createObjectNode();
    node.put("error", error);
    node.put("error_description", description);
    return node;
  }

  private static void writeJson(HttpServletResponse response, int status, Object body,
      Map<String, String> headers) throws IOException {
    byte[] bytes = body instanceof String s
        ? s.getBytes(StandardCharsets.UTF_8)
        : JSON.writeValueAsBytes(body);
    response.setStatus(status);
    response.setContentType(JSON_TYPE);
    response.setHeader("Cache-Control", "no-store");
    response.setHeader("Pragma", "no-cache");
    headers.forEach(response::setHeader);
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  // ---------------------------------------------------------------- servlet

  private final class Servlet extends HttpServlet {

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      String path = request.getRequestURI().substring(request.getContextPath().length());
      String method = request.getMethod();
      if (path.equals(TOKEN_PATH)) {
        if (!method.equals("POST")) {
          request.getInputStream().readAllBytes();
          response.setHeader("Allow", "POST");
          writeJson(response, 405,
              error("invalid_request", "The token endpoint accepts POST only"), Map.of());
          return;
        }
        handleToken(request, response);
        return;
      }
      if (path.equals(SMART_CONFIGURATION) || path.equals(fhirBasePath + SMART_CONFIGURATION)) {
        if (method.equals("GET") || method.equals("HEAD")) {
          writeJson(response, 200, smartConfiguration(), Map.of());
          return;
        }
      }
      request.getInputStream().readAllBytes();
      writeJson(response, 404, error("not_found", "The fake auth server has no " + method + " "
          + path + " (it serves POST /token and GET .well-known/smart-configuration)"), Map.of());
    }
  }

  private final class JettyServer extends RestartableJetty<JettyServer> {

    @Override
    protected HttpServlet provideServlet() {
      return new Servlet();
    }

  }

  @Override
  public String toString() {
    return "FakeAuthServer[" + (isUp() ? baseUrl() : "down") + ", " + clients.size()
        + " clients, " + tokens.size() + " tokens]";
  }
}
