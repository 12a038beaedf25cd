package org.pathlingrelay.receive;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.server.exceptions.PayloadTooLargeException;
import jakarta.servlet.http.HttpServletRequest;

/**
 * Refuses bodies we would not accept before reading them: a declared length over the limit (413)
 * or a content type that is not FHIR JSON or XML (415). Bodies without a declared length are
 * counted as they are read by {@link BodyLimitFilter}.
 */
@Interceptor
final class RequestShapeInterceptor {

  private final long maxBodyBytes;

  RequestShapeInterceptor(long maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = 100)
  public boolean checkShape(HttpServletRequest request) {
    long declared = request.getContentLengthLong();
    if (declared > maxBodyBytes) {
      throw new PayloadTooLargeException(
          "The body of " + declared + " bytes is over the limit of " + maxBodyBytes + " bytes");
    }
    boolean carriesBody = declared > 0 || request.getHeader("Transfer-Encoding") != null;
    String method = request.getMethod();
    if (carriesBody && ("PUT".equals(method) || "POST".equals(method))) {
      NotificationParser.encodingOf(request.getContentType());
    }
    return true;
  }
}
