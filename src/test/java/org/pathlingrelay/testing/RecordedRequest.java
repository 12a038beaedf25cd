package org.pathlingrelay.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One HTTP request that reached {@link FakePathling}, as the fake saw and answered it.
 *
 * @param method  the HTTP method, e.g. {@code PUT}
 * @param path    the path below the FHIR base without leading slash, e.g. {@code Patient/1}, or
 *                {@code ""} for a request to the base itself (a batch)
 * @param query   the raw query string, or {@code ""} when there was none
 * @param status  the HTTP status the fake answered
 * @param entries what the request carried, in order: one entry for a single-resource request
 *                (taken from the URL), one per bundle entry for a batch; empty for reads or when
 *                the body could not be parsed
 * @param start   when the request reached the fake
 * @param end     when the answer was ready to be sent (before the client could see it)
 */
public record RecordedRequest(
    String method,
    String path,
    String query,
    int status,
    List<Entry> entries,
    Instant start,
    Instant end) {

  public RecordedRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(path, "path");
    query = query == null ? "" : query;
    entries = List.copyOf(entries);
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(end, "end");
  }

  /**
   * One resource reference carried by a request.
   *
   * @param method    the method of the request or, inside a batch, of the entry ({@code PUT},
   *                  {@code POST}, {@code DELETE}, ...)
   * @param reference {@code Type/id}; for a POST entry the type alone, or {@code Type/id} when the
   *                  posted resource had an id of its own (which the fake ignores)
   */
  public record Entry(String method, String reference) {

    @Override
    public String toString() {
      return method + " " + reference;
    }
  }

  /** The {@code Type/id} references carried, in order. */
  public List<String> references() {
    return entries.stream().map(Entry::reference).toList();
  }

  /** Whether this was a write (anything but GET/HEAD/OPTIONS). */
  public boolean isWrite() {
    return !(method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS"));
  }

  /** Whether this was a POST to the base URL, i.e. a batch (or a rejected transaction). */
  public boolean isBatch() {
    return method.equals("POST") && path.isEmpty();
  }

  /** Whether the fake answered with a 2xx status. */
  public boolean succeeded() {
    return status >= 200 && status < 300;
  }

  public Duration duration() {
    return Duration.between(start, end);
  }

  @Override
  public String toString() {
    return method + " /" + path + (query.isEmpty() ? "" : "?" + query) + " -> " + status
        + (entries.isEmpty() ? "" : " " + entries);
  }
}
