package org.pathlingrelay.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What every fake peer shares: one server kept running on one port across a test class (started
 * again if a test left it down), {@link #reset()} before each test, and outages on demand with
 * {@link #goDown()} and {@link #comeBack()}, which keep the fake's state.
 */
public abstract class FakeServer
    implements BeforeAllCallback, BeforeEachCallback, AfterEachCallback, AfterAllCallback {

  private final String name;

  protected FakeServer(String name) {
    this.name = name;
  }

  /** The server behind this fake; built with {@code keepAliveBetweenTests()}. */
  abstract Restartable server();

  /** Back to the state of a new fake, keeping the port. */
  public abstract void reset();

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    server().extension().beforeEach(context);
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    server().extension().beforeEach(context); // starts it if a previous test left it down; same port
    reset();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    server().extension().afterEach(context); // keeps running: keepAliveBetweenTests
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    server().extension().afterAll(context);
  }

  /** Stops the server: connections are refused until {@link #comeBack()}. State is kept. */
  public void goDown() {
    try {
      server().extension().stopServer();
    } catch (Exception e) {
      throw new IllegalStateException("Could not stop the " + name, e);
    }
  }

  /** Starts the server again on the same port, with the same state. */
  public void comeBack() {
    try {
      server().start();
    } catch (Exception e) {
      throw new IllegalStateException(
          "Could not restart the " + name + " on port " + server().extension().getPort(), e);
    }
  }

  public boolean isUp() {
    return server().isUp();
  }

  /**
   * Where the fake answers: for the FHIR fakes their FHIR base, e.g. {@code
   * http://localhost:41234/fhir}; for the auth server its root. Valid once started.
   */
  public String baseUrl() {
    return server().extension().getBaseUrl();
  }

  public int port() {
    return server().extension().getPort();
  }
}
