package org.pathlingrelay.cli;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import java.time.Duration;
import org.pathlingrelay.forward.ClientTimeouts;

/** A HAPI client for the source server, with the source's credentials. */
final class SourceClients {

  private SourceClients() {}

  static IGenericClient fhirClient(FhirContext fhirContext, SourceAccess source) {
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    IGenericClient client = factory.newGenericClient(source.sourceUrl);
    // Set on the requests: HAPI ignores a factory's timeouts and would wait the context's 10 s.
    client.registerInterceptor(new ClientTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(60)));
    client.registerInterceptor(new org.pathlingrelay.auth.BearerTokenInterceptor(source.tokens()));
    return client;
  }
}
