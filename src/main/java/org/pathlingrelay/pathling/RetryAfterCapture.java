package org.pathlingrelay.pathling;

import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;
import java.util.List;
import java.util.Optional;

/**
 * Remembers the {@code Retry-After} of the last response on this thread. HAPI's client drops
 * response headers from the exceptions it throws, so the header is caught on its way past.
 */
final class RetryAfterCapture implements IClientInterceptor {

  private final ThreadLocal<String> lastRetryAfter = new ThreadLocal<>();

  @Override
  public void interceptRequest(IHttpRequest request) {
    lastRetryAfter.remove();
  }

  @Override
  public void interceptResponse(IHttpResponse response) {
    List<String> values = response.getHeaders("Retry-After");
    if (values != null && !values.isEmpty()) {
      lastRetryAfter.set(values.get(0));
    }
  }

  Optional<String> lastRetryAfter() {
    return Optional.ofNullable(lastRetryAfter.get());
  }
}
