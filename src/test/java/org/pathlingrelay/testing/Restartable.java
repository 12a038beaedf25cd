package org.pathlingrelay.testing;

import ca.uhn.fhir.test.utilities.server.BaseJettyServerExtension;

/** A HAPI Jetty test server that can be started again on the port it had, to model an outage. */
interface Restartable {

  BaseJettyServerExtension<?> extension();

  /** Starts the server again, on the port it had. */
  void start() throws Exception;

  boolean isUp();
}
