package org.pathlingrelay.cli;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;

/** A HAPI client for the source server, with the source's credentials. */
final class SourceClients {

  private SourceClients() {}

  static IGenericClient fhirClient(FhirContext fhirContext, SourceOptions source) {
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    factory.setSocketTimeout(60_000);
    IGenericClient client = factory.newGenericClient(source.sourceUrl);
    client.registerInterceptor(new org.pathlingrelay.auth.BearerTokenInterceptor(source.tokens()));
    return client;
  }
}
