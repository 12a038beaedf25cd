package org.pathlingrelay.testing;

import ca.uhn.fhir.test.utilities.server.BaseJettyServerExtension;

/** A servlet on HAPI's Jetty test server whose protected start is opened for {@link FakeServer}. */
abstract class RestartableJetty<T extends RestartableJetty<T>> extends BaseJettyServerExtension<T>
    implements Restartable {

  @Override
  public BaseJettyServerExtension<?> extension() {
    return this;
  }

  @Override
  public void start() throws Exception {
    startServer();
  }

  @Override
  public boolean isUp() {
    return isRunning();
  }
}
