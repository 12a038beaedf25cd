package org.pathlingrelay.receive;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeResourceDefinition;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.Filter;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.pathlingrelay.outbox.NotificationIntake;

/**
 * Builds the FHIR endpoint that receives notifications: a HAPI {@link RestfulServer} that accepts
 * create, update and delete of every R4 resource type plus batch/transaction/history Bundles, and
 * the servlet filters that hold answers until the commit and bound request bodies. Mount all at {@code /fhir/*}.
 */
public final class Receiver {

  private final RestfulServer servlet;
  private final List<Filter> filters;

  /**
   * @param interceptors registered before the receiver's own, e.g. authentication
   */
  public Receiver(
      FhirContext fhirContext,
      NotificationIntake outbox,
      long maxBodyBytes,
      List<Object> interceptors,
      MeterRegistry meters) {
    this(fhirContext, outbox, maxBodyBytes, interceptors, meters, Optional.empty(), InstantSource.system());
  }

  /**
   * @param source reads resources that id-only topic notifications only name
   * @param clock times the summaries of repeated refusals in the log
   */
  public Receiver(
      FhirContext fhirContext,
      NotificationIntake outbox,
      long maxBodyBytes,
      List<Object> interceptors,
      MeterRegistry meters,
      Optional<SourceReader> source,
      InstantSource clock) {
    NotificationParser parser = new NotificationParser(fhirContext);
    DurableAcknowledger acknowledger =
        new DurableAcknowledger(outbox, DurableAcknowledger.DEFAULT_TIMEOUT, meters);
    List<IResourceProvider> providers = new ArrayList<>();
    for (String type : new TreeSet<>(fhirContext.getResourceTypes())) {
      RuntimeResourceDefinition definition = fhirContext.getResourceDefinition(type);
      providers.add(
          new ResourceNotificationProvider(
              definition.getImplementingClass(), type, parser, acknowledger));
    }
    RestfulServer server = new RestfulServer(fhirContext);
    server.setServerName("pathling-relay");
    server.setImplementationDescription(
        "Receives FHIR rest-hook notifications and forwards them to Pathling");
    server.setDefaultResponseEncoding(EncodingEnum.JSON);
    server.setResourceProviders(providers);
    server.registerProvider(new BundleNotificationProvider(parser, acknowledger, source));
    interceptors.forEach(server::registerInterceptor);
    server.registerInterceptor(new RequestShapeInterceptor(maxBodyBytes));
    server.registerInterceptor(new Utf8BodyInterceptor());
    server.registerInterceptor(new PingInterceptor(fhirContext, acknowledger));
    RejectionLogger rejections = new RejectionLogger(meters, clock);
    server.registerInterceptor(rejections);
    this.servlet = server;
    this.filters = List.of(
        new AnswerAfterCommitFilter(fhirContext, DurableAcknowledger.DEFAULT_TIMEOUT, rejections),
        new BodyLimitFilter(maxBodyBytes));
  }

  public RestfulServer servlet() {
    return servlet;
  }

  /** To mount in this order in front of {@link #servlet()}, for asynchronous requests too. */
  public List<Filter> filters() {
    return filters;
  }
}
