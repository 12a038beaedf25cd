package org.pathlingrelay.hosting;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.net.BindException;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The one Jetty server: the FHIR receiver at {@code /fhir/*} and the operations endpoints beside
 * it. Limits are set here on purpose rather than left to Jetty's defaults; {@link HttpLimits} says
 * why each has its value.
 */
public final class HttpHost implements AutoCloseable {

  /** Twice the default request cap: threads also run selectors, the scheduler and ops endpoints. */
  private static final int MAX_THREADS = 200;

  private final Server server;
  private final ServerConnector connector;

  private HttpHost(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  public static HttpHost start(
      String bind, int port, HttpServlet fhir, List<Filter> fhirFilters, HttpServlet ops,
      Optional<TlsSettings> tls, HttpLimits limits) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, 8);
    threads.setName("http");
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(limits.maxHeaderBytes());
    ServerConnector connector;
    if (tls.isPresent()) {
      SslContextFactory.Server ssl = new SslContextFactory.Server();
      ssl.setKeyStore(tls.get().keyStore());
      ssl.setKeyStorePassword(new String(tls.get().keyPassword()));
      tls.get().clientCa().ifPresent(ca -> {
        ssl.setTrustStore(ca);
        ssl.setNeedClientAuth(true);
      });
      SecureRequestCustomizer secure = new SecureRequestCustomizer();
      // Sources reach the relay by whatever name their network gives it; do not insist on SNI.
      secure.setSniHostCheck(false);
      http.addCustomizer(secure);
      connector = new ServerConnector(server,
          new SslConnectionFactory(ssl, "http/1.1"),
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
    } catch (IOException e) {
      if (!(e.getCause() instanceof BindException cause)) {
        throw e;
      }
      stopQuietly(server);
      throw new CannotListenException(bind, port, cause);
    }
    return new HttpHost(server, connector);
  }

  private static void stopQuietly(Server server) {
    try {
      server.stop();
    } catch (Exception ignored) {
      // it never started; its threads are what matters, and stop() ends them
    }
  }

  public int port() {
    return connector.getLocalPort();
  }

  public void join() throws InterruptedException {
    server.join();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
