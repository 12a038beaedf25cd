package org.pathlingrelay.hosting;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Semaphore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Caps the requests to one path prefix that are handled at once. One over the cap is answered at
 * once with {@code 503} and {@code Retry-After}: HAPI retries that, whereas queueing would hold
 * its connection past its 10 s timeout. Other paths (health, status, metrics) are never capped, so
 * an overloaded receiver still answers its probes.
 */
final class ConcurrencyLimit extends Handler.Wrapper {

  private static final byte[] BUSY = ("{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
      + "\"code\":\"throttled\",\"diagnostics\":\"Too many requests at once; retry shortly\"}]}")
      .getBytes(StandardCharsets.UTF_8);

  private final String pathPrefix;
  private final Semaphore permits;

  ConcurrencyLimit(Handler handler, String pathPrefix, int maxConcurrent) {
    super(handler);
    this.pathPrefix = pathPrefix;
    this.permits = new Semaphore(maxConcurrent);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    if (!Request.getPathInContext(request).startsWith(pathPrefix)) {
      return super.handle(request, response, callback);
    }
    if (!permits.tryAcquire()) {
      response.setStatus(HttpStatus.SERVICE_UNAVAILABLE_503);
      response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/fhir+json;charset=utf-8");
      response.write(true, ByteBuffer.wrap(BUSY), callback);
      return true;
    }
    // Runs when the exchange ends, however it ends (answered, failed, or its connection closed).
    Request.addCompletionListener(request, failure -> permits.release());
    return super.handle(request, response, callback);
  }
}
