package org.pathlingrelay.wiring;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.time.Duration;
import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.BearerTokenInterceptor;
import org.pathlingrelay.http.ClientTimeouts;
import org.pathlingrelay.receive.SourceReader;

/** Reads single resources from the source with HAPI's client, for id-only notifications. */
public final class SourceReaders {

  private SourceReaders() {}

  public static SourceReader hapi(FhirContext fhirContext, String sourceUrl, AccessTokens tokens) {
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    IGenericClient client = factory.newGenericClient(sourceUrl);
    // The sender waits 10 s for our answer, and we must read before we answer. Set on the
    // requests: HAPI ignores a factory's timeouts and would wait the context's 10 s.
    client.registerInterceptor(new ClientTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(5)));
    client.registerInterceptor(new BearerTokenInterceptor(tokens));
    return (type, id) -> {
      try {
        IBaseResource resource = client.read().resource(type).withId(id).execute();
        return Optional.of(resource);
      } catch (FhirClientConnectionException e) {
        throw new SourceReader.UnavailableException("the source did not answer", e);
      } catch (BaseServerResponseException e) {
        if (e.getStatusCode() == 404 || e.getStatusCode() == 410) {
          return Optional.empty();
        }
        throw new SourceReader.UnavailableException("the source answered " + e.getStatusCode(), e);
      }
    };
  }
}
