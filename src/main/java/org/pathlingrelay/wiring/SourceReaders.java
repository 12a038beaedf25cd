package org.pathlingrelay.wiring;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.time.Duration;
import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.http.ClientTimeouts;
import org.pathlingrelay.receive.SourceReader;
import org.pathlingrelay.source.SourceClients;

/** Reads single resources from the source with HAPI's client, for id-only notifications. */
public final class SourceReaders {

  private SourceReaders() {}

  public static SourceReader hapi(FhirContext fhirContext, String sourceUrl, AccessTokens tokens) {
    // The sender waits 10 s for our answer, and we must read before we answer.
    IGenericClient client = SourceClients.fhirClient(
        fhirContext, sourceUrl, tokens, new ClientTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(5)));
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
