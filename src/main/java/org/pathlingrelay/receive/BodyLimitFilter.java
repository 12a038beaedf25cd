package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.server.exceptions.PayloadTooLargeException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.io.IOException;
import java.util.Enumeration;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpException;

/**
 * Stops reading a body once it passes the limit, so a chunked body of unknown length cannot make
 * us buffer without bound. The exception surfaces from HAPI as a 413 OperationOutcome; a body that
 * stops arriving surfaces as 408.
 */
final class BodyLimitFilter implements Filter {

  private final long maxBodyBytes;

  BodyLimitFilter(long maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    chain.doFilter(new Limited((HttpServletRequest) request, maxBodyBytes), response);
  }

  private static final class Limited extends HttpServletRequestWrapper {
    private final long max;
    private ServletInputStream stream;

    Limited(HttpServletRequest request, long max) {
      super(request);
      this.max = max;
    }

    @Override
    public ServletInputStream getInputStream() throws IOException {
      if (stream == null) {
        stream = new CountingStream(super.getInputStream(), max);
      }
      return stream;
    }

    // HAPI asks for the parameters of every request, and Jetty parses the content type (and a form
    // body) to answer; what it cannot parse would reach HAPI as a 500. It is the sender's fault.
    @Override
    public String getParameter(String name) {
      return parsed(() -> super.getParameter(name));
    }

    @Override
    public Map<String, String[]> getParameterMap() {
      return parsed(super::getParameterMap);
    }

    @Override
    public Enumeration<String> getParameterNames() {
      return parsed(super::getParameterNames);
    }

    @Override
    public String[] getParameterValues(String name) {
      return parsed(() -> super.getParameterValues(name));
    }

    private static <T> T parsed(Supplier<T> parameters) {
      try {
        return parameters.get();
      } catch (RuntimeException e) {
        int status = e instanceof HttpException http && http.getCode() >= 400 && http.getCode() < 500
            ? http.getCode()
            : 400;
        throw new UnclassifiedServerFailureException(status, "The content type or form content cannot be parsed");
      }
    }
  }

  private static final class CountingStream extends ServletInputStream {
    private final ServletInputStream delegate;
    private final long max;
    private long read;

    CountingStream(ServletInputStream delegate, long max) {
      this.delegate = delegate;
      this.max = max;
    }

    @Override
    public int read() throws IOException {
      int b;
      try {
        b = delegate.read();
      } catch (IOException e) {
        throw timedOutOr(e);
      }
      if (b >= 0) {
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int n;
      try {
        n = delegate.read(buffer, offset, length);
      } catch (IOException e) {
        throw timedOutOr(e);
      }
      if (n > 0) {
        count(n);
      }
      return n;
    }

    /**
     * A body that stops arriving fails the read with Jetty's idle timeout. HAPI would turn that
     * into a 400 naming the Java exception; the sender should see 408 (its body was too slow).
     */
    private static IOException timedOutOr(IOException e) {
      for (Throwable cause = e; cause != null; cause = cause.getCause()) {
        if (cause instanceof TimeoutException) {
          throw new UnclassifiedServerFailureException(408, "The request body did not arrive in time");
        }
      }
      return e;
    }

    private void count(int n) {
      read += n;
      if (read > max) {
        throw new PayloadTooLargeException("The body is over the limit of " + max + " bytes");
      }
    }

    @Override
    public boolean isFinished() {
      return delegate.isFinished();
    }

    @Override
    public boolean isReady() {
      return delegate.isReady();
    }

    @Override
    public void setReadListener(ReadListener listener) {
      delegate.setReadListener(listener);
    }
  }
}
