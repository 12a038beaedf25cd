package org.pathlingrelay.testing;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Makes a fake resource server require {@code Authorization: Bearer <token>} with a token that a
 * {@link FakeAuthServer} issued, that is unrevoked and unexpired (and, with {@link #requiring},
 * whose scope covers a required scope or Pathling authority).
 *
 * <h2>Registering it</h2>
 *
 * <p>One object, two ways in; use one per server:
 *
 * <pre>{@code
 * RequireBearerToken guard = new RequireBearerToken(auth);
 * // a HAPI RestfulServer (e.g. a RestfulServerExtension), at any time:
 * restfulServerExtension.registerInterceptor(guard);
 * // or any servlet (a BaseJettyServerExtension), before it starts; runs before the servlet, as
 * // Spring Security runs before HAPI inside Pathling:
 * jettyServerExtension.withServletFilter(guard);
 * }</pre>
 *
 * <p>Both answer the same way. If a request meets it twice (registered both ways), it is checked
 * once.
 *
 * <h2>Behaviour (as Pathling's Spring Security resource server, where known)</h2>
 *
 * <ul>
 *   <li>Open paths: {@code GET} of a path ending in {@code /metadata} or containing {@code
 *       /.well-known/} (Pathling permits {@code GET /fhir/metadata} and {@code GET
 *       /fhir/.well-known/**}), plus {@link #permitting} suffixes. A {@code GET .../.well-known/
 *       smart-configuration} is answered by the guard itself with the auth server's document
 *       ({@link FakeAuthServer#smartConfiguration()}), so discovery against the resource server's
 *       base finds the fake token endpoint (off: {@link #servingSmartConfiguration}).
 *   <li>No {@code Authorization: Bearer} header (or another scheme): 401 with {@code
 *       WWW-Authenticate: Bearer} and no error code (RFC 6750 §3.1, and what Spring sends).
 *   <li>A bearer token that is unknown, revoked or expired: 401 with {@code WWW-Authenticate:
 *       Bearer error="invalid_token", error_description="<reason>"}. As in Spring Security, this
 *       also happens on open paths: an invalid token is refused even where no token is needed
 *       ({@link #rejectInvalidTokensOnOpenPaths}).
 *   <li>A valid token whose scope does not cover {@link #requiring}: 403 with {@code
 *       WWW-Authenticate: Bearer error="insufficient_scope", ..., scope="<required>"}.
 *   <li>Every refusal has an OperationOutcome body ({@code application/fhir+json}, issue code
 *       {@code login} or {@code forbidden}, diagnostics = the reason). Real Pathling sends 401s
 *       from Spring with an empty body, and 403s for missing authorities from HAPI with an
 *       OperationOutcome and no {@code WWW-Authenticate}. The request body is read before
 *       answering, so the connection stays usable.
 * </ul>
 *
 * <p>{@link #accepted()}, {@link #rejected()} and {@link #rejections()} count the requests that
 * needed a token (open paths are not counted unless refused). They are reset by {@link #reset()}
 * and by the auth server's {@link FakeAuthServer#reset()}. Thread-safe.
 */
@Interceptor
public final class RequireBearerToken implements Filter {

  /** A refused request: method, path (from the context root), status and reason. */
  public record Rejection(Instant at, String method, String path, int status, String reason) {}

  private static final String CHECKED = RequireBearerToken.class.getName() + ".checked";
  private static final String FHIR_JSON = "application/fhir+json;charset=utf-8";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final FakeAuthServer auth;
  private final List<String> openSuffixes = new CopyOnWriteArrayList<>(List.of("/metadata"));
  private volatile String required;
  private volatile boolean enabled = true;
  private volatile boolean serveSmartConfiguration = true;
  private volatile boolean rejectInvalidOnOpenPaths = true;

  private final AtomicInteger accepted = new AtomicInteger();
  private final ConcurrentLinkedQueue<Rejection> rejections = new ConcurrentLinkedQueue<>();

  public RequireBearerToken(FakeAuthServer auth) {
    this.auth = Objects.requireNonNull(auth, "auth");
    auth.addGuard(this);
  }

  // ---------------------------------------------------------------- knobs (fluent)

  /**
   * Tokens must also cover this scope or Pathling authority ({@link FakeAuthServer#covers}), else
   * 403; {@code null}: any valid token will do (the default).
   */
  public RequireBearerToken requiring(String scopeOrAuthority) {
    required = scopeOrAuthority;
    return this;
  }

  /** {@code GET} requests whose path ends with this (e.g. {@code /OperationDefinition}) pass too. */
  public RequireBearerToken permitting(String pathSuffix) {
    openSuffixes.add(Objects.requireNonNull(pathSuffix, "pathSuffix"));
    return this;
  }

  /** Whether {@code GET .../.well-known/smart-configuration} is answered here (default true). */
  public RequireBearerToken servingSmartConfiguration(boolean serve) {
    serveSmartConfiguration = serve;
    return this;
  }

  /** Whether a bad token is refused even on an open path, as Spring does (default true). */
  public RequireBearerToken rejectInvalidTokensOnOpenPaths(boolean reject) {
    rejectInvalidOnOpenPaths = reject;
    return this;
  }

  /** Off: every request passes untouched and uncounted (for a fake that installs it always). */
  public RequireBearerToken setEnabled(boolean on) {
    enabled = on;
    return this;
  }

  /** Zeroes the counters and forgets the rejections (knobs stay). */
  public void reset() {
    accepted.set(0);
    rejections.clear();
  }

  // ---------------------------------------------------------------- inspection

  /** Requests that needed a token and carried a good one. */
  public int accepted() {
    return accepted.get();
  }

  /** Requests refused with 401 or 403. */
  public int rejected() {
    return rejections.size();
  }

  public List<Rejection> rejections() {
    return List.copyOf(rejections);
  }

  /** The reasons of {@link #rejections()}, in order. */
  public List<String> rejectionReasons() {
    return rejections.stream().map(Rejection::reason).toList();
  }

  // ---------------------------------------------------------------- the two ways in

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (request.getDispatcherType() != DispatcherType.REQUEST
        || !(request instanceof HttpServletRequest httpRequest)
        || !(response instanceof HttpServletResponse httpResponse)
        || check(httpRequest, httpResponse)) {
      chain.doFilter(request, response);
    }
  }

  /** HAPI: runs before HAPI parses or routes the request; {@code false} means answered here. */
  @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_PROCESSED)
  public boolean incomingRequestPreProcessed(HttpServletRequest request,
      HttpServletResponse response) throws IOException {
    return check(request, response);
  }

  /** True: let the request through. False: the answer has been written. */
  private boolean check(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    if (!enabled || request.getAttribute(CHECKED) != null) {
      return true;
    }
    request.setAttribute(CHECKED, Boolean.TRUE);
    String path = request.getRequestURI().substring(request.getContextPath().length());
    boolean get = request.getMethod().equals("GET");

    if (get && serveSmartConfiguration && path.endsWith("/.well-known/smart-configuration")) {
      byte[] body = auth.smartConfiguration().getBytes(StandardCharsets.UTF_8);
      response.setStatus(200);
      response.setContentType("application/json;charset=UTF-8");
      response.setContentLength(body.length);
      response.getOutputStream().write(body);
      return false;
    }

    String token = bearerToken(request);
    boolean open = get && (path.contains("/.well-known/")
        || openSuffixes.stream().anyMatch(path::endsWith));
    if (open) {
      if (token == null || !rejectInvalidOnOpenPaths) {
        return true;
      }
      Optional<String> problem = auth.whyInvalid(token, null);
      if (problem.isEmpty()) {
        return true;
      }
      refuse(request, response, path, 401, problem.get(), true);
      return false;
    }

    if (token == null) {
      refuse(request, response, path, 401, "Missing bearer token", false);
      return false;
    }
    Optional<String> problem = auth.whyInvalid(token, null);
    if (problem.isPresent()) {
      refuse(request, response, path, 401, problem.get(), true);
      return false;
    }
    String scope = required;
    if (scope != null) {
      Optional<String> insufficient = auth.whyInvalid(token, scope);
      if (insufficient.isPresent()) {
        refuseScope(request, response, path, scope, insufficient.get());
        return false;
      }
    }
    accepted.incrementAndGet();
    return true;
  }

  /** The token of an {@code Authorization: Bearer} header (scheme case-insensitive), or null. */
  private static String bearerToken(HttpServletRequest request) {
    String header = request.getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = header.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  private void refuse(HttpServletRequest request, HttpServletResponse response, String path,
      int status, String reason, boolean invalidToken) throws IOException {
    String challenge = invalidToken
        ? "Bearer error=\"invalid_token\", error_description=\"" + quoted(reason) + "\""
        : "Bearer";
    answer(request, response, path, status, reason, challenge, "login");
  }

  private void refuseScope(HttpServletRequest request, HttpServletResponse response, String path,
      String scope, String reason) throws IOException {
    String challenge = "Bearer error=\"insufficient_scope\", error_description=\"" + quoted(reason)
        + "\", scope=\"" + quoted(scope) + "\"";
    answer(request, response, path, 403, reason, challenge, "forbidden");
  }

  private void answer(HttpServletRequest request, HttpServletResponse response, String path,
      int status, String reason, String challenge, String issueCode) throws IOException {
    drain(request);
    rejections.add(new Rejection(Instant.now(), request.getMethod(), path, status, reason));
    ObjectNode outcome = JSON.createObjectNode();
    outcome.put("resourceType", "OperationOutcome");
    ObjectNode issue = outcome.putArray("issue").addObject();
    issue.put("severity", "error");
    issue.put("code", issueCode);
    issue.put("diagnostics", reason);
    byte[] body = JSON.writeValueAsBytes(outcome);
    response.setStatus(status);
    response.setHeader("WWW-Authenticate", challenge);
    response.setContentType(FHIR_JSON);
    response.setContentLength(body.length);
    response.getOutputStream().write(body);
  }

  /** Reads what is left of the request body: left unread, Jetty may close the connection. */
  private static void drain(HttpServletRequest request) {
    try {
      InputStream in = request.getInputStream();
      in.transferTo(OutputStream.nullOutputStream());
    } catch (IOException | IllegalStateException ignored) {
      // a reader was taken already, or the client went away: nothing more to do
    }
  }

  private static String quoted(String text) {
    return text.replace("\\", "\\\\").replace("\"", "\\\"");
  }

  @Override
  public String toString() {
    return "RequireBearerToken[" + auth.baseUrl() + (required == null ? "" : ", " + required)
        + ", accepted " + accepted() + ", rejected " + rejected() + "]";
  }
}
