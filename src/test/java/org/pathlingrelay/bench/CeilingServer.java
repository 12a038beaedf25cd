package org.pathlingrelay.bench;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.LenientErrorHandler;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.IdType;

/**
 * The ingest baseline: a bare HAPI {@link RestfulServer} on Jetty, with an {@code @Update} for
 * every R4 type that takes the resource HAPI parsed and does nothing with it. What the relay adds
 * to this (authentication, checks, its own parsing, the durable outbox write) is what the ratio
 * shows.
 */
final class CeilingServer implements AutoCloseable {

  private final JettyHost host;

  private CeilingServer(JettyHost host) {
    this.host = host;
  }

  static CeilingServer start() throws Exception {
    FhirContext fhirContext = FhirContext.forR4();
    fhirContext.setParserErrorHandler(new LenientErrorHandler(false));
    List<IResourceProvider> providers = new ArrayList<>();
    for (String type : new TreeSet<>(fhirContext.getResourceTypes())) {
      providers.add(new NoOpUpdate(fhirContext.getResourceDefinition(type).getImplementingClass()));
    }
    RestfulServer server = new RestfulServer(fhirContext);
    server.setDefaultResponseEncoding(EncodingEnum.JSON);
    server.setResourceProviders(providers);
    return new CeilingServer(JettyHost.start("ceiling", server));
  }

  String fhirBase() {
    return host.fhirBase();
  }

  @Override
  public void close() throws Exception {
    host.close();
  }

  /** Gets the resource as HAPI parsed it (once), and drops it. */
  static final class NoOpUpdate implements IResourceProvider {
    private final Class<? extends IBaseResource> resourceClass;

    NoOpUpdate(Class<? extends IBaseResource> resourceClass) {
      this.resourceClass = resourceClass;
    }

    @Override
    public Class<? extends IBaseResource> getResourceType() {
      return resourceClass;
    }

    @Update
    public MethodOutcome update(@IdParam IdType id, @ResourceParam IBaseResource resource) {
      return new MethodOutcome(id);
    }
  }
}
