package org.pathlingrelay.auth;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import jakarta.servlet.http.HttpServletRequest;
import java.util.Optional;

/**
 * Every request to the receiver except {@code GET metadata} must carry
 * {@code Authorization: Bearer <secret>} with one of the configured secrets; anything else is
 * answered 401 before the body is read.
 */
@Interceptor
public final class ReceiverAuthInterceptor {

  private static final String BEARER = "Bearer ";
  private final ReceiverSecrets secrets;

  public ReceiverAuthInterceptor(ReceiverSecrets secrets) {
    this.secrets = secrets;
  }

  @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_PRE_PROCESSED, order = 0)
  public boolean authenticate(HttpServletRequest request) {
    if (isMetadata(request)) {
      return true;
    }
    Optional<String> token = bearerToken(request.getHeader("Authorization"));
    if (token.isEmpty()) {
      throw challenge("Missing 'Authorization: Bearer <secret>' header");
    }
    if (!secrets.matches(token.get())) {
      throw challenge("The bearer secret is not valid");
    }
    return true;
  }

  private static boolean isMetadata(HttpServletRequest request) {
    return "GET".equals(request.getMethod()) && "/metadata".equals(request.getPathInfo());
  }

  private static Optional<String> bearerToken(String header) {
    if (header == null || header.length() <= BEARER.length()
        || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return Optional.empty();
    }
    return Optional.of(header.substring(BEARER.length()).trim());
  }

  private static AuthenticationException challenge(String message) {
    AuthenticationException exception = new AuthenticationException(message);
    exception.addResponseHeader("WWW-Authenticate", "Bearer realm=\"pathling-relay\"");
    return exception;
  }
}
