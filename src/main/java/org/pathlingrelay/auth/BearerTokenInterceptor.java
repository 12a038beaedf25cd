package org.pathlingrelay.auth;

import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;

/**
 * Puts the current token on every request of a HAPI client, and drops a token the server refused
 * (401), so that the caller's retry goes out with a fresh one.
 */
public final class BearerTokenInterceptor implements IClientInterceptor {

  private final AccessTokens tokens;
  private final ThreadLocal<String> sent = new ThreadLocal<>();

  public BearerTokenInterceptor(AccessTokens tokens) {
    this.tokens = tokens;
  }

  @Override
  public void interceptRequest(IHttpRequest request) {
    sent.remove();
    tokens.token().ifPresent(token -> {
      request.removeHeaders("Authorization");
      request.addHeader("Authorization", "Bearer " + token);
      sent.set(token);
    });
  }

  @Override
  public void interceptResponse(IHttpResponse response) {
    if (response.getStatus() == 401 && sent.get() != null) {
      tokens.invalidate(sent.get());
    }
  }
}
