package org.pathlingrelay.hosting;

import java.util.Set;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Answers {@code 405} to methods neither the receiver nor the ops endpoints use. Without it the
 * servlet base class answers an unknown method with {@code 501}, and {@code TRACE} by echoing the
 * request, {@code Authorization} header (the secret) included.
 */
final class KnownMethods extends Handler.Wrapper {

  private static final Set<String> KNOWN = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS");

  KnownMethods(Handler handler) {
    super(handler);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    if (!KNOWN.contains(request.getMethod())) {
      Response.writeError(request, response, callback, HttpStatus.METHOD_NOT_ALLOWED_405);
      return true;
    }
    return super.handle(request, response, callback);
  }
}
