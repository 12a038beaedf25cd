package org.pathlingrelay.receive;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.PayloadTooLargeException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import jakarta.servlet.http.HttpServletRequest;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Refuses a URL with a malformed %-escape (400), and bodies we would not accept before reading them: a declared length over the limit (413),
 * a content type that is not FHIR JSON or XML, a charset other than UTF-8, or a compressed body
 * (415). Bodies without a declared length are
 * counted as they are read by {@link BodyLimitFilter}.
 */
@Interceptor
final class RequestShapeInterceptor {

  private final long maxBodyBytes;

  RequestShapeInterceptor(long maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  /** A '%' that does not start an escape ({@code %} and two hex digits). */
  private static final Pattern BROKEN_ESCAPE = Pattern.compile("%(?![0-9A-Fa-f]{2})");

  /**
   * HAPI decodes the path itself, and a broken escape that Jetty lets through (inside a path
   * parameter, after ';') escapes its decoder as a 500. Runs before HAPI reads the path.
   */
  @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_PRE_PROCESSED, order = 10)
  public boolean checkPath(HttpServletRequest request) {
    if (BROKEN_ESCAPE.matcher(request.getRequestURI()).find()) {
      throw new InvalidRequestException("The URL has a malformed %-escape");
    }
    return true;
  }

  @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = 100)
  public boolean checkShape(HttpServletRequest request) {
    long declared = request.getContentLengthLong();
    if (declared > maxBodyBytes) {
      throw new PayloadTooLargeException(
          "The body of " + declared + " bytes is over the limit of " + maxBodyBytes + " bytes");
    }
    requireUtf8Charset(request);
    boolean carriesBody = declared > 0 || request.getHeader("Transfer-Encoding") != null;
    String method = request.getMethod();
    if (carriesBody && ("PUT".equals(method) || "POST".equals(method))) {
      NotificationParser.encodingOf(request.getContentType());
      requireIdentityEncoding(request.getHeader("Content-Encoding"));
    }
    return true;
  }

  /**
   * FHIR bodies are UTF-8. HAPI looks up the charset the servlet request reports before parsing,
   * and a malformed or unknown name (say {@code UTF-8`}) escapes it as a 500; this asks the same.
   */
  private static void requireUtf8Charset(HttpServletRequest request) {
    String name;
    try {
      name = request.getCharacterEncoding();
    } catch (RuntimeException unparseable) {
      throw new UnclassifiedServerFailureException(415, "The content type cannot be parsed");
    }
    if (name == null || name.isBlank()) {
      return;
    }
    boolean utf8;
    try {
      utf8 = Charset.forName(name.trim()).equals(StandardCharsets.UTF_8);
    } catch (IllegalArgumentException notACharset) {
      utf8 = false;
    }
    if (!utf8) {
      throw new UnclassifiedServerFailureException(415, "The content type must name no charset or UTF-8");
    }
  }

  /**
   * HAPI would inflate a gzip body in memory, where the size limit no longer applies: a few KiB
   * can expand to gigabytes. HAPI's rest-hook never compresses what it sends.
   */
  private static void requireIdentityEncoding(String contentEncoding) {
    if (contentEncoding != null && !contentEncoding.isBlank() && !"identity".equalsIgnoreCase(contentEncoding.trim())) {
      throw new UnclassifiedServerFailureException(415, "Compressed bodies (Content-Encoding) are not accepted");
    }
  }
}
