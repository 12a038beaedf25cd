package org.pathlingrelay.hosting;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors Jetty answers itself, before HAPI sees the request (headers too large, a malformed
 * request line, an ambiguous URI, an unknown method), get an OperationOutcome like every other
 * refusal instead of Jetty's HTML page. Only the status and its standard reason go out: Jetty's
 * own message can quote the request, and its page can carry a stack trace.
 */
final class OutcomeErrorHandler extends ErrorHandler {

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    int code = request.getAttribute(ERROR_EXCEPTION) instanceof HttpException http ? http.getCode() : response.getStatus();
    response.setStatus(code);
    if (HttpStatus.hasNoBody(code) || "HEAD".equals(request.getMethod())) {
      callback.succeeded();
      return true;
    }
    String outcome = "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\""
        + (code >= 500 ? "exception" : "invalid") + "\",\"diagnostics\":\"HTTP " + code + " "
        + HttpStatus.getMessage(code) + "\"}]}";
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/fhir+json;charset=utf-8");
    response.write(true, ByteBuffer.wrap(outcome.getBytes(StandardCharsets.UTF_8)), callback);
    return true;
  }
}
