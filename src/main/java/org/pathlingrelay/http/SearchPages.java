package org.pathlingrelay.http;

import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;

/**
 * Walks a searchset page by page, following {@code next} links, handing each page's resources on
 * before the next is read: a listing of any size holds one page in the heap.
 */
public final class SearchPages {

  /** HAPI JPA answers a search repeated within 60 s from its cache: a check must see now. */
  private static final CacheControlDirective NO_CACHE = new CacheControlDirective().setNoCache(true);

  private SearchPages() {}

  public static CacheControlDirective noCache() {
    return NO_CACHE;
  }

  /**
   * @param first the first page, as the search answered it
   * @param call runs each page's request (the caller's retries and breaker)
   */
  public static void forEach(
      IGenericClient client, Bundle first, Function<Supplier<Bundle>, Bundle> call,
      Consumer<List<IBaseResource>> pages) {
    Bundle page = first;
    while (true) {
      List<IBaseResource> resources = new ArrayList<>(page.getEntry().size());
      for (Bundle.BundleEntryComponent entry : page.getEntry()) {
        if (entry.hasResource()) {
          resources.add(entry.getResource());
        }
      }
      if (!resources.isEmpty()) {
        pages.accept(resources);
      }
      if (page.getLink(Bundle.LINK_NEXT) == null) {
        return;
      }
      Bundle current = page;
      page = call.apply(() -> client.loadPage().next(current).cacheControl(NO_CACHE).execute());
    }
  }
}
