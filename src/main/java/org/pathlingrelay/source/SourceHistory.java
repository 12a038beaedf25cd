package org.pathlingrelay.source;

import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.gclient.IHistoryUntyped;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.InstantType;

/**
 * Finds what the source deleted since an instant, from its {@code _history}. A {@code _since}
 * export leaves deleted resources out, and HAPI JPA 8.8.0 writes no {@code deleted} files, so
 * without this a sync would never carry a delete the live stream missed. HAPI lists a delete as a
 * history entry {@code request: {method: DELETE, url: Type/id/_history/N}} without a resource.
 */
public final class SourceHistory {

  /** HAPI caps a page at 50 however many are asked for; asking for more costs nothing. */
  static final int PAGE_SIZE = 500;

  /** Statuses that mean the source offers no history (HAPI: 400 for an unknown operation). */
  private static final Set<Integer> NO_HISTORY = Set.of(400, 404, 405, 501);

  private static final Pattern ENTRY_URL =
      Pattern.compile("^(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\\-.]{1,64})(?:/_history/([^/]+))?$");

  /**
   * A resource whose newest history entry since the instant is a delete.
   *
   * @param version the version the delete created, when the source numbers them (HAPI does)
   */
  public record Deletion(String type, String id, Optional<Long> version) {}

  private final IGenericClient client;

  public SourceHistory(IGenericClient client) {
    this.client = client;
  }

  /**
   * The resources of the given types (all types when empty) whose newest change since
   * {@code since} (inclusive) is a delete; empty when the source has no history to ask.
   *
   * @throws SourceException when the source fails or cannot be reached
   */
  public Optional<List<Deletion>> deletedSince(Instant since, List<String> types) {
    // Newest first, per the spec; a page boundary that shifts under concurrent writes repeats
    // entries rather than skipping them, and the highest version of each resource wins.
    Map<String, Entry> newest = new LinkedHashMap<>();
    List<Supplier<Bundle>> firstPages = new ArrayList<>();
    if (types.isEmpty()) {
      firstPages.add(() -> firstPage(client.history().onServer(), since));
    } else {
      for (String type : types) {
        firstPages.add(() -> firstPage(client.history().onType(type), since));
      }
    }
    try {
      for (Supplier<Bundle> first : firstPages) {
        Bundle page = first.get();
        while (page != null) {
          for (Bundle.BundleEntryComponent entry : page.getEntry()) {
            entryOf(entry).ifPresent(e -> newest.merge(e.key(), e, Entry::newer));
          }
          page = page.getLink(Bundle.LINK_NEXT) == null
              ? null
              : client.loadPage().next(page).cacheControl(NO_CACHE).execute();
        }
      }
    } catch (FhirClientConnectionException e) {
      throw new SourceException("The source did not answer a _history request: " + e.getMessage(), 0, true, null, e);
    } catch (BaseServerResponseException e) {
      if (NO_HISTORY.contains(e.getStatusCode())) {
        return Optional.empty();
      }
      throw new SourceException("Reading the source's _history failed: " + e.getMessage(),
          e.getStatusCode(), e.getStatusCode() >= 500 || e.getStatusCode() == 429, null, e);
    }
    Set<String> wanted = Set.copyOf(types);
    return Optional.of(newest.values().stream()
        .filter(Entry::deleted)
        .filter(e -> wanted.isEmpty() || wanted.contains(e.type()))
        .map(e -> new Deletion(e.type(), e.id(), e.version()))
        .toList());
  }

  /** A search repeated within 60 s is answered from HAPI's cache: ask for the current one. */
  private static final CacheControlDirective NO_CACHE = new CacheControlDirective().setNoCache(true);

  private static Bundle firstPage(IHistoryUntyped history, Instant since) {
    // In UTC: HAPI's client leaves a '+' offset unescaped in the query, where it reads as a space.
    InstantType sinceParam = new InstantType(Date.from(since));
    sinceParam.setTimeZoneZulu(true);
    return history.returnBundle(Bundle.class)
        .since(sinceParam)
        .count(PAGE_SIZE)
        .cacheControl(NO_CACHE)
        .execute();
  }

  private static Optional<Entry> entryOf(Bundle.BundleEntryComponent entry) {
    String method = entry.getRequest().hasMethod() ? entry.getRequest().getMethod().toCode() : null;
    String url = entry.getRequest().getUrl();
    if (url == null && entry.hasResource()) {
      url = entry.getResource().getIdElement().toUnqualified().getValue();
    }
    if (url == null) {
      return Optional.empty();
    }
    Matcher matcher = ENTRY_URL.matcher(url);
    if (!matcher.matches()) {
      return Optional.empty();
    }
    Optional<Long> version = Optional.ofNullable(number(matcher.group(3)));
    if (version.isEmpty() && entry.hasResource()) {
      version = Optional.ofNullable(number(entry.getResource().getMeta().getVersionId()));
    }
    return Optional.of(new Entry(matcher.group(1), matcher.group(2), version, "DELETE".equals(method)));
  }

  private static Long number(String text) {
    return text != null && text.matches("\\d{1,18}") ? Long.valueOf(text) : null;
  }

  private record Entry(String type, String id, Optional<Long> version, boolean deleted) {

    String key() {
      return type + "/" + id;
    }

    /** Of two entries of one resource, the later version; the first seen when unnumbered. */
    static Entry newer(Entry seen, Entry next) {
      if (seen.version().isPresent() && next.version().isPresent()) {
        return next.version().get() > seen.version().get() ? next : seen;
      }
      return seen;
    }
  }
}
