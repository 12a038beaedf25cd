package org.pathlingrelay.source;

import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.hl7.fhir.instance.model.api.IAnyResource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.pathlingrelay.http.SearchPages;

/**
 * What the source holds now, by search: counts, every id of a type with its {@code meta}, and the
 * current version of given ids. Every search bypasses HAPI's search cache, so a check run again
 * straight after a repair sees the repair.
 */
public final class SourceListing {

  private final IGenericClient client;

  public SourceListing(IGenericClient client) {
    this.client = client;
  }

  /** The types the source serves, from its CapabilityStatement. */
  public List<String> types() {
    return SourceResourceTypes.served(client);
  }

  /** {@code [type]?_summary=count}. */
  public long count(String type) {
    Bundle bundle = client.search().forResource(type).summaryMode(SummaryEnum.COUNT)
        .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute();
    return bundle.getTotal();
  }

  /** {@code [type]?_elements=id,meta&_count=N}, page by page. */
  public void ids(String type, int pageSize, Consumer<List<IBaseResource>> pages) {
    Bundle first = client.search().forResource(type).elementsSubset("id", "meta").count(pageSize)
        .cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute();
    SearchPages.forEach(client, first, Supplier::get, pages);
  }

  /** The current version of each of {@code ids} that still exists, by {@code [type]?_id=a,b,...}. */
  public void current(String type, Collection<String> ids, Consumer<List<IBaseResource>> pages) {
    Bundle first = client.search().forResource(type).where(IAnyResource.RES_ID.exactly().codes(ids))
        .count(ids.size()).cacheControl(SearchPages.noCache()).returnBundle(Bundle.class).execute();
    SearchPages.forEach(client, first, Supplier::get, pages);
  }
}
