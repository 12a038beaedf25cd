package org.pathlingrelay.cli;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The one Jetty server: the FHIR receiver at {@code /fhir/*} and the operations endpoints beside
 * it. Limits are set here on purpose rather than left to Jetty's defaults.
 */
final class HttpHost implements AutoCloseable {

  /** Enough for HAPI's headers plus a long bearer token; anything larger is refused with 431. */
  private static final int MAX_HEADER_BYTES = 16 * 1024;
  /** A connection that sends nothing for this long is closed (slow senders). */
  private static final long IDLE_TIMEOUT_MS = 30_000;
  private static final int MAX_THREADS = 200;

  private final Server server;
  private final ServerConnector connector;

  private HttpHost(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  static HttpHost start(String bind, int port, HttpServlet fhir, Filter fhirBodyLimit, HttpServlet ops)
      throws Exception {
    return start(bind, port, fhir, fhirBodyLimit, ops, java.util.Optional.empty());
  }

  static HttpHost start(
      String bind, int port, HttpServlet fhir, Filter fhirBodyLimit, HttpServlet ops,
      java.util.Optional<TlsSettings> tls) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, 8);
    threads.setName("http");
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(MAX_HEADER_BYTES);
    ServerConnector connector;
    if (tls.isPresent()) {
      org.eclipse.jetty.util.ssl.SslContextFactory.Server ssl = new org.eclipse.jetty.util.ssl.SslContextFactory.Server();
      ssl.setKeyStore(tls.get().keyStore());
      ssl.setKeyStorePassword(new String(tls.get().keyPassword()));
      tls.get().clientCa().ifPresent(ca -> {
        ssl.setTrustStore(ca);
        ssl.setNeedClientAuth(true);
      });
      org.eclipse.jetty.server.SecureRequestCustomizer secure = new org.eclipse.jetty.server.SecureRequestCustomizer();
      // Sources reach the relay by whatever name their network gives it; do not insist on SNI.
      secure.setSniHostCheck(false);
      http.addCustomizer(secure);
      connector = new ServerConnector(server,
          new org.eclipse.jetty.server.SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(http));
    } else {
      connector = new ServerConnector(server, new HttpConnectionFactory(http));
    }
    connector.setHost(bind);
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_TIMEOUT_MS);
    server.addConnector(connector);

    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder("fhir", fhir), "/fhir/*");
    context.addFilter(new FilterHolder(fhirBodyLimit), "/fhir/*", EnumSet.of(DispatcherType.REQUEST));
    ServletHolder opsHolder = new ServletHolder("ops", ops);
    for (String path : new String[] {"/healthz", "/readyz", "/status", "/metrics"}) {
      context.addServlet(opsHolder, path);
    }
    server.setHandler(context);
    server.setStopTimeout(5_000);
    server.start();
    return new HttpHost(server, connector);
  }

  int port() {
    return connector.getLocalPort();
  }

  void join() throws InterruptedException {
    server.join();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
