package org.pathlingrelay.bench;

import jakarta.servlet.http.HttpServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty server on a free loopback port with one servlet at {@code /fhir/*}, configured as the
 * relay's own host (same thread pool, header limit and idle timeout), so that a baseline served
 * here pays what the relay pays for HTTP.
 */
final class JettyHost implements AutoCloseable {

  private final Server server;
  private final ServerConnector connector;

  private JettyHost(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  static JettyHost start(String name, HttpServlet servlet) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(200, 8);
    threads.setName(name);
    Server server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setRequestHeaderSize(16 * 1024);
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    connector.setIdleTimeout(30_000);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(name, servlet), "/fhir/*");
    server.setHandler(context);
    server.setStopTimeout(2_000);
    server.start();
    return new JettyHost(server, connector);
  }

  /** The FHIR base URL, e.g. {@code http://127.0.0.1:41234/fhir}. */
  String fhirBase() {
    return "http://127.0.0.1:" + connector.getLocalPort() + "/fhir";
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}
