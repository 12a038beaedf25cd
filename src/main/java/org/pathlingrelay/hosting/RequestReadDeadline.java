package org.pathlingrelay.hosting;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * HTTP/1.1 connections that must deliver each request in full (request line, headers and body)
 * within a deadline counted from the request's first byte; otherwise the connection is closed.
 *
 * <p>Jetty's idle timeout is reset by every byte, so a sender that trickles one byte every few
 * seconds (slow-loris headers, a chunked body that never ends) would hold its connection, and once
 * the body is being read a server thread, for as long as it likes. Jetty 12.0 has no header
 * timeout, so this hooks the connection's own parser: the clock starts when a new request's first
 * bytes are parsed and stops when the parser reaches the end of the body. An idle keep-alive
 * connection between requests is not on the clock; the idle timeout governs it.
 */
final class RequestReadDeadline extends HttpConnectionFactory {

  private final long deadlineMs;

  RequestReadDeadline(HttpConfiguration config, Duration deadline) {
    super(config);
    this.deadlineMs = deadline.toMillis();
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    DeadlineConnection connection =
        new DeadlineConnection(getHttpConfiguration(), connector, endPoint, deadlineMs);
    connection.setUseInputDirectByteBuffers(isUseInputDirectByteBuffers());
    connection.setUseOutputDirectByteBuffers(isUseOutputDirectByteBuffers());
    return configure(connection, connector, endPoint);
  }

  private static final class DeadlineConnection extends HttpConnection {

    private final Scheduler scheduler;
    private final long deadlineMs;
    private final Object lock = new Object();
    private Scheduler.Task pending;
    // Set from the super constructor (through newRequestHandler), hence no initializer and not
    // final: HttpConnection reads its own reference to the same handler, so the parser must get it.
    private RequestHandler requestHandler;

    DeadlineConnection(HttpConfiguration config, Connector connector, EndPoint endPoint, long deadlineMs) {
      super(config, connector, endPoint);
      this.scheduler = connector.getScheduler();
      this.deadlineMs = deadlineMs;
    }

    @Override
    protected HttpParser newHttpParser(HttpCompliance compliance) {
      // Mirrors HttpConnection.newHttpParser, with a parser that starts the clock.
      HttpParser parser = new ClockedParser(requestHandler, getHttpConfiguration().getRequestHeaderSize(), compliance);
      parser.setHeaderCacheSize(getHttpConfiguration().getHeaderCacheSize());
      parser.setHeaderCacheCaseSensitive(getHttpConfiguration().isHeaderCacheCaseSensitive());
      return parser;
    }

    @Override
    protected RequestHandler newRequestHandler() {
      requestHandler = new RequestHandler() {
        @Override
        public boolean messageComplete() {
          stopClock();
          return super.messageComplete();
        }
      };
      return requestHandler;
    }

    @Override
    public void onClose(Throwable cause) {
      stopClock();
      super.onClose(cause);
    }

    private void startClock() {
      synchronized (lock) {
        if (pending == null) {
          pending = scheduler.schedule(this::expire, deadlineMs, TimeUnit.MILLISECONDS);
        }
      }
    }

    private void stopClock() {
      synchronized (lock) {
        if (pending != null) {
          pending.cancel();
          pending = null;
        }
      }
    }

    private void expire() {
      synchronized (lock) {
        if (pending == null) {
          return;
        }
        pending = null;
      }
      // Nothing can be answered on a half-received request; closing also wakes a servlet thread
      // that is blocked reading the body, which then fails without storing anything.
      getEndPoint().close(new TimeoutException(
          "request not received within " + deadlineMs + " ms"));
    }

    /** Starts the clock when a new request's first bytes arrive. */
    private final class ClockedParser extends HttpParser {
      ClockedParser(RequestHandler handler, int maxHeaderBytes, HttpCompliance compliance) {
        super(handler, maxHeaderBytes, compliance);
      }

      @Override
      public boolean parseNext(ByteBuffer buffer) {
        if (isStart() && buffer.hasRemaining()) {
          startClock();
        }
        return super.parseNext(buffer);
      }
    }
  }
}
