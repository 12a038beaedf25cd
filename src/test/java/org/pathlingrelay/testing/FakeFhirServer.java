package org.pathlingrelay.testing;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;
import java.lang.reflect.Modifier;
import java.util.Set;
import java.util.TreeSet;
import org.hl7.fhir.instance.model.api.IBaseResource;

/** A fake peer that is a HAPI {@code RestfulServer}: its own context, address and client. */
public abstract class FakeFhirServer extends FakeServer {

  // A private context: RestfulServerExtension reconfigures its context's client factory (socket
  // timeout, server validation mode) on every start, which must not leak into the relay's context.
  final FhirContext ctx = FhirContext.forR4();
  /** Configured by the subclass's constructor. */
  final RestartableRestfulServer server = new RestartableRestfulServer(ctx);

  protected FakeFhirServer(String name) {
    super(name);
  }

  @Override
  Restartable server() {
    return server;
  }

  /** The underlying HAPI extension, for tests that prefer to register it themselves. */
  public RestfulServerExtension extension() {
    return server;
  }

  /**
   * A new HAPI client for this server, built on the fake's own context (no metadata check), so
   * the shared {@code FhirContext.forR4Cached()} is left untouched.
   */
  public IGenericClient newClient() {
    return ctx.newRestfulGenericClient(baseUrl());
  }

  /** Every resource type of the context that can have instances (the abstract ones left out). */
  final Set<String> concreteResourceTypes() {
    Set<String> types = new TreeSet<>();
    for (String name : ctx.getResourceTypes()) {
      Class<? extends IBaseResource> type = ctx.getResourceDefinition(name).getImplementingClass();
      if (!Modifier.isAbstract(type.getModifiers())) {
        types.add(name);
      }
    }
    return java.util.Collections.unmodifiableSet(types); // sorted
  }
}
