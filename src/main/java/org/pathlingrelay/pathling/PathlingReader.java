package org.pathlingrelay.pathling;

import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.pathlingrelay.auth.AuthenticationFailedException;
import org.pathlingrelay.auth.BearerTokenInterceptor;
import org.pathlingrelay.http.ClientTimeouts;
import org.pathlingrelay.http.SearchPages;

/**
 * What Pathling holds, by search: a type's row count and its ids with their {@code meta}.
 * Pathling 2.0.1 answers {@code [type]?_elements=id} with id and meta, and pages it with
 * {@code next} links. Each request passes the same Retry and circuit breaker as the writes.
 */
public final class PathlingReader {

  private final PathlingCalls calls;
  private final IGenericClient client;

  PathlingReader(PathlingServer pathling) {
    this.calls = pathling.calls();
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(pathling.fhirContext());
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    this.client = factory.newGenericClient(pathling.baseUrl());
    client.registerInterceptor(new ClientTimeouts(pathling.connectTimeout(), pathling.answerTimeout()));
    client.registerInterceptor(new BearerTokenInterceptor(pathling.tokens()));
  }

  /**
   * {@code [type]?_summary=count}: every row, so an id held twice counts twice. Empty when
   * Pathling does not know the type (400, 404): it cannot hold resources of it. Other refusals
   * (401, 403) are thrown: a wrong token must not pass for an empty Pathling.
   */
  public OptionalLong count(String type) {
    try {
      Bundle bundle = call(() -> client.search().forResource(type).summaryMode(SummaryEnum.COUNT)
          .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute(), "count of " + type);
      return OptionalLong.of(bundle.getTotal());
    } catch (BaseServerResponseException e) {
      if (e.getStatusCode() == 400 || e.getStatusCode() == 404) {
        return OptionalLong.empty();
      }
      throw e;
    }
  }

  /** {@code [type]?_elements=id&_count=N}, page by page: one entry per row. */
  public void ids(String type, int pageSize, Consumer<List<IBaseResource>> pages) {
    String what = "listing of " + type;
    Bundle first = call(() -> client.search().forResource(type).elementsSubset("id").count(pageSize)
        .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute(), what);
    SearchPages.forEach(client, first, request -> call(request, what), pages);
  }

  private Bundle call(Supplier<Bundle> request, String what) {
    return calls.call(() -> {
      try {
        return request.get();
      } catch (RuntimeException e) {
        throw retriableOrAsIs(e, what);
      }
    });
  }

  /** Failures worth another try become retriable (and count against Pathling's health). */
  private static RuntimeException retriableOrAsIs(RuntimeException e, String what) {
    if (e instanceof AuthenticationFailedException) {
      return new RetriableWriteException(e.getMessage(), 401, null, e);
    }
    if (e instanceof FhirClientConnectionException) {
      return new RetriableWriteException("Pathling did not answer the " + what + ": " + e.getMessage(), 0, null, e);
    }
    if (e instanceof BaseServerResponseException response
        && (response.getStatusCode() >= 500 || response.getStatusCode() == 429)) {
      return new RetriableWriteException(
          "Pathling answered " + response.getStatusCode() + " to the " + what + ": " + e.getMessage(),
          response.getStatusCode(), null, e);
    }
    return e;
  }
}
