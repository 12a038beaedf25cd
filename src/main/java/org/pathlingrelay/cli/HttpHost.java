package org.pathlingrelay.cli;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The one Jetty server: the FHIR receiver at {@code /fhir/*} and the operations endpoints beside
 * it. Limits are set here on purpose rather than left to Jetty's defaults; {@link HttpLimits} says
 * why each has its value.
 */
final class HttpHost implements AutoCloseable {

  /** Twice the default request cap: threads also run selectors, the scheduler and ops endpoints. */
  private static final int MAX_THREADS = 200;

  private final Server server;
  private final ServerConnector connector;

  private HttpHost(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  static HttpHost start(
      String bind, int port, HttpServlet fhir, java.util.List<Filter> fhirFilters, HttpServlet ops,
      java.util.Optional<TlsSettings> tls, HttpLimits limits) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, 8);
    threads.setName("http");
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(limits.maxHeaderBytes());
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
          new org.eclipse.jetty.server.SslConnectionFactory(ssl, "http/1.1"),
          new RequestReadDeadline(http, limits.requestReadTimeout()));
    } else {
      connector = new ServerConnector(server, new RequestReadDeadline(http, limits.requestReadTimeout()));
    }
    connector.setHost(bind);
    connector.setPort(port);
    connector.setIdleTimeout(limits.idleTimeout().toMillis());
    server.addConnector(connector);

    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    ServletHolder fhirHolder = new ServletHolder("fhir", fhir);
    fhirHolder.setAsyncSupported(true);
    context.addServlet(fhirHolder, "/fhir/*");
    for (Filter filter : fhirFilters) {
      FilterHolder holder = new FilterHolder(filter);
      holder.setAsyncSupported(true);
      context.addFilter(holder, "/fhir/*", EnumSet.of(DispatcherType.REQUEST));
    }
    ServletHolder opsHolder = new ServletHolder("ops", ops);
    for (String path : new String[] {"/healthz", "/readyz", "/status", "/metrics"}) {
      context.addServlet(opsHolder, path);
    }
    context.setErrorHandler(new OutcomeErrorHandler());
    server.setErrorHandler(new OutcomeErrorHandler());
    server.setHandler(new KnownMethods(new ConcurrencyLimit(context, "/fhir", limits.maxConcurrentRequests())));
    server.setStopTimeout(5_000);
    try {
      server.start();
    } catch (java.io.IOException e) {
      if (!(e.getCause() instanceof java.net.BindException cause)) {
        throw e;
      }
      stopQuietly(server);
      throw new OperatorMistake(bindMistake(cause, bind, port));
    }
    return new HttpHost(server, connector);
  }

  /** Jetty's own message names neither the option nor the cause in words a user knows. */
  private static String bindMistake(java.net.BindException e, String bind, int port) {
    String reason = String.valueOf(e.getMessage());
    if (reason.contains("in use")) {
      return "port " + port + " is in use (--port / RELAY_PORT)";
    }
    if (reason.contains("ermission")) {
      return "port " + port + ": permission denied; ports below 1024 need privileges (--port / RELAY_PORT)";
    }
    return "cannot listen on " + bind + ":" + port + ": " + reason + " (--bind / RELAY_BIND, --port / RELAY_PORT)";
  }

  private static void stopQuietly(Server server) {
    try {
      server.stop();
    } catch (Exception ignored) {
      // it never started; its threads are what matters, and stop() ends them
    }
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
