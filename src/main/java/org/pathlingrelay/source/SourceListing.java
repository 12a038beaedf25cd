package org.pathlingrelay.source;

import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.function.Consumer;
import org.hl7.fhir.instance.model.api.IAnyResource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.pathlingrelay.http.SearchPages;

/**
 * What the source holds now, by search: counts, every id of a type with its {@code meta}, and the
 * current version of given ids. Every search bypasses HAPI's search cache, so a check run again
 * straight after a repair sees the repair. A request that fails for now (no answer, a 5xx, 429) is
 * tried again, page by page: one hiccup must not end a listing of millions.
 */
public final class SourceListing {

  /** The name of the listing requests' retry in the registry. */
  public static final String RETRY = "source-listing";

  private final IGenericClient client;
  private final Retry retry;

  public SourceListing(IGenericClient client, Retry retry) {
    this.client = client;
    this.retry = retry;
  }

  /** Five tries a request, backing off from one second. */
  public static RetryConfig retryConfig() {
    return retryConfig(Duration.ofSeconds(1));
  }

  /** Five tries a request, backing off from {@code firstWait}. */
  public static RetryConfig retryConfig(Duration firstWait) {
    return RetryConfig.custom()
        .maxAttempts(5)
        .intervalFunction(IntervalFunction.ofExponentialRandomBackoff(firstWait, 2.0, 0.5))
        .retryOnException(SourceListing::worthRetrying)
        .build();
  }

  private static boolean worthRetrying(Throwable failure) {
    if (failure instanceof FhirClientConnectionException) {
      return true;
    }
    return failure instanceof BaseServerResponseException response
        && (response.getStatusCode() >= 500 || response.getStatusCode() == 429);
  }

  /** The types the source serves, from its CapabilityStatement. */
  public List<String> types() {
    return retry.executeSupplier(() -> SourceResourceTypes.served(client));
  }

  /** Whether the source's CapabilityStatement lists a system-level {@code $export}. */
  public boolean offersExport() {
    return retry.executeSupplier(() -> SourceResourceTypes.exportsSystem(
        client.capabilities().ofType(CapabilityStatement.class).execute()));
  }

  /** {@code [type]?_summary=count}. */
  public long count(String type) {
    Bundle bundle = retry.executeSupplier(() -> client.search().forResource(type).summaryMode(SummaryEnum.COUNT)
        .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute());
    return bundle.getTotal();
  }

  /** {@code [type]?_elements=id,meta&_count=N}, page by page. */
  public void ids(String type, int pageSize, Consumer<List<IBaseResource>> pages) {
    Bundle first = retry.executeSupplier(() -> client.search().forResource(type).elementsSubset("id", "meta")
        .count(pageSize).cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute());
    SearchPages.forEach(client, first, retry::executeSupplier, pages);
  }

  /**
   * {@code [type]?_lastUpdated=ge[since]&_elements=id,meta}, page by page: what changed after an
   * export's transaction time, which the export cannot hold.
   */
  public void idsSince(String type, Instant since, int pageSize, Consumer<List<IBaseResource>> pages) {
    Bundle first = retry.executeSupplier(() -> client.search().forResource(type)
        .lastUpdated(new DateRangeParam(Date.from(since), null)).elementsSubset("id", "meta")
        .count(pageSize).cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute());
    SearchPages.forEach(client, first, retry::executeSupplier, pages);
  }

  /** The current version of each of {@code ids} that still exists, by {@code [type]?_id=a,b,...}. */
  public void current(String type, Collection<String> ids, Consumer<List<IBaseResource>> pages) {
    Bundle first = retry.executeSupplier(() -> client.search().forResource(type)
        .where(IAnyResource.RES_ID.exactly().codes(ids)).count(ids.size())
        .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute());
    SearchPages.forEach(client, first, retry::executeSupplier, pages);
  }
}
