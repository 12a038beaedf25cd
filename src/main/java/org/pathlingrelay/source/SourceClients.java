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

  /** For searches, history and exports: 10 s to connect, a minute of silence. */
  public static IGenericClient fhirClient(FhirContext fhirContext, String sourceUrl, AccessTokens tokens) {
    return fhirClient(fhirContext, sourceUrl, tokens, new ClientTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(60)));
  }

  public static IGenericClient fhirClient(
      FhirContext fhirContext, String sourceUrl, AccessTokens tokens, ClientTimeouts timeouts) {
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    IGenericClient client = factory.newGenericClient(sourceUrl);
    // Set on the requests: HAPI ignores a factory's timeouts and would wait the context's 10 s.
    client.registerInterceptor(timeouts);
    client.registerInterceptor(new BearerTokenInterceptor(tokens));
    return client;
  }
}
