package org.pathlingrelay.receive;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * HAPI's rest-hook without payload is an empty {@code POST [base]} (form content type, length 0).
 * It tells us something changed without saying what; we count it and answer 200.
 */
@Interceptor
final class PingInterceptor {

  private final FhirContext fhirContext;
  private final DurableAcknowledger acknowledger;

  PingInterceptor(FhirContext fhirContext, DurableAcknowledger acknowledger) {
    this.fhirContext = fhirContext;
    this.acknowledger = acknowledger;
  }

  /** Runs after authentication ({@code order} above it), before HAPI looks for a body. */
  @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = 200)
  public boolean answerPing(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    if (!isPing(request)) {
      return true;
    }
    acknowledger.ping();
    byte[] body =
        fhirContext
            .newJsonParser()
            .encodeResourceToString(Outcomes.information("Notification without payload recorded"))
            .getBytes(StandardCharsets.UTF_8);
    response.setStatus(200);
    response.setContentType(Constants.CT_FHIR_JSON_NEW + ";charset=UTF-8");
    response.setContentLength(body.length);
    response.getOutputStream().write(body);
    return false;
  }

  private static boolean isPing(HttpServletRequest request) {
    String path = request.getPathInfo();
    boolean base = path == null || path.isEmpty() || "/".equals(path);
    return base && "POST".equals(request.getMethod()) && request.getContentLengthLong() <= 0
        && request.getHeader("Transfer-Encoding") == null;
  }
}
