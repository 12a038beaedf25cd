package org.pathlingrelay.source;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import java.time.Duration;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.BearerTokenInterceptor;
import org.pathlingrelay.http.ClientTimeouts;

/** A HAPI client for the source server, with the source's credentials. */
public final class SourceClients {

  private SourceClients() {}

  public static IGenericClient fhirClient(FhirContext fhirContext, String sourceUrl, AccessTokens tokens) {
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    IGenericClient client = factory.newGenericClient(sourceUrl);
    // Set on the requests: HAPI ignores a factory's timeouts and would wait the context's 10 s.
    client.registerInterceptor(new ClientTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(60)));
    client.registerInterceptor(new BearerTokenInterceptor(tokens));
    return client;
  }
}
