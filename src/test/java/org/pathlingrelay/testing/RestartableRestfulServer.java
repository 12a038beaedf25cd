package org.pathlingrelay.testing;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.test.utilities.server.BaseJettyServerExtension;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;

/**
 * HAPI's {@link RestfulServerExtension} with its protected start opened for {@link FakeServer}.
 * It fixes its own type parameter, so it cannot share {@link RestartableJetty}.
 */
final class RestartableRestfulServer extends RestfulServerExtension implements Restartable {

  RestartableRestfulServer(FhirContext ctx) {
    super(ctx);
  }

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
