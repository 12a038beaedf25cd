package org.pathlingrelay.pathling;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.entity.EntityTemplate;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.IdType;
import org.pathlingrelay.auth.AuthenticationFailedException;
import org.pathlingrelay.auth.BearerTokenInterceptor;
import org.pathlingrelay.http.ClientTimeouts;
import org.pathlingrelay.http.SearchPages;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Writes to Pathling through HAPI's generic client, and batches with the server's plain HTTP client. */
final class HapiPathlingWriter implements PathlingWriter {

  private static final Logger log = LoggerFactory.getLogger(HapiPathlingWriter.class);

  private final PathlingServer pathling;
  private final FhirContext fhirContext;
  private final IGenericClient client;
  private final RetryAfterCapture retryAfter = new RetryAfterCapture();
  private final URI base;
  private final BatchBundleWriter bundles = new BatchBundleWriter();
  private final AtomicBoolean warnedNoSearch = new AtomicBoolean();

  HapiPathlingWriter(PathlingServer pathling) {
    this.pathling = pathling;
    this.fhirContext = pathling.fhirContext();
    this.base = URI.create(pathling.baseUrl());
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    this.client = factory.newGenericClient(pathling.baseUrl());
    // On the requests, not the factory: HAPI would use the context's 10 s instead of --pathling-timeout.
    client.registerInterceptor(new ClientTimeouts(pathling.connectTimeout(), pathling.answerTimeout()));
    client.registerInterceptor(retryAfter);
    client.registerInterceptor(new BearerTokenInterceptor(pathling.tokens()));
  }

  /**
   * One batch Bundle of PUTs, written around the stored JSON and sent with a plain HTTP client:
   * the statuses are read from the answer without building HAPI's model of it.
   */
  @Override
  public void putBatch(String type, List<Change> upserts) {
    String what = "batch of " + upserts.size() + " " + type;
    HttpPost post = new HttpPost(base);
    post.setHeader("Content-Type", "application/fhir+json; charset=UTF-8");
    post.setHeader("Accept", "application/fhir+json");
    Optional<String> token = pathling.authorize(post);
    // Chunked: the Bundle is written straight onto the connection (64 KiB at a time), so sending
    // overlaps building, and no copy of the whole batch sits in the heap.
    post.setEntity(new EntityTemplate(out -> {
      BufferedOutputStream buffered = new BufferedOutputStream(out, 1 << 16);
      bundles.write(upserts, buffered);
      buffered.flush();
    }));
    try (CloseableHttpResponse response = pathling.http().execute(post)) {
      int status = response.getStatusLine().getStatusCode();
      if (status >= 200 && status < 300) {
        List<String> statuses = bundles.statuses(response.getEntity().getContent());
        for (String entryStatus : statuses) {
          if (entryStatus == null || !entryStatus.startsWith("2")) {
            throw new RejectedWriteException(
                "Pathling answered " + entryStatus + " for an entry of a " + what, 400, "entry status " + entryStatus);
          }
        }
        return;
      }
      String body = PathlingServer.bodyOf(response);
      String message = "Pathling answered " + status + " to the " + what + ": " + pathling.diagnostics(body);
      if (status == 401 && token.isPresent()) {
        pathling.tokens().invalidate(token.get());
      }
      if (retriable(status)) {
        throw new RetriableWriteException(message, status, pathling.retryAfter(response).orElse(null), null);
      }
      throw new RejectedWriteException(message, status, body.isBlank() ? message : body);
    } catch (IOException e) {
      throw new RetriableWriteException("Pathling did not answer the " + what + ": " + e.getMessage(), 0, null, e);
    }
  }

  @Override
  public void put(Change upsert) {
    IBaseResource resource = fhirContext.newJsonParser().parseResource(upsert.json().read());
    try {
      client.update().resource(resource).withId(toId(upsert.key())).execute();
    } catch (RuntimeException e) {
      throw translate(e, "update of " + upsert.key());
    }
  }

  @Override
  public void delete(ResourceKey key) {
    try {
      client.delete().resourceById(toId(key)).execute();
    } catch (BaseServerResponseException e) {
      if (e.getStatusCode() == 404 || e.getStatusCode() == 410) {
        return; // already absent: what we wanted
      }
      throw translate(e, "delete of " + key);
    } catch (RuntimeException e) {
      throw translate(e, "delete of " + key);
    }
  }

  /**
   * Pathling 2.0.1 ignores {@code _id}, but filters by FHIRPath: {@code
   * [type]?_query=fhirPath&filter=id = 'a' or id = 'b'} answers the rows of those ids (0.3–0.9 s
   * for 1–50 ids, about one count). {@code in} over a union of literals is no substitute: with 150
   * ids it ran for many minutes.
   */
  @Override
  public Set<String> held(String type, List<String> ids) {
    if (ids.isEmpty()) {
      return Set.of();
    }
    String filter = ids.stream().map(id -> "id = '" + id.replace("\\", "\\\\").replace("'", "\\'") + "'")
        .collect(Collectors.joining(" or "));
    Set<String> held = new HashSet<>();
    try {
      Bundle first = client.search().forResource(type)
          .whereMap(Map.of("_query", List.of("fhirPath"), "filter", List.of(filter)))
          .elementsSubset("id").count(2 * ids.size()).cacheControl(SearchPages.noCache())
          .returnBundle(Bundle.class).execute();
      SearchPages.forEach(client, first, request -> request.get(),
          page -> page.forEach(resource -> held.add(resource.getIdElement().getIdPart())));
    } catch (BaseServerResponseException e) {
      if (e.getStatusCode() == 400 || e.getStatusCode() == 404) {
        if (!warnedNoSearch.getAndSet(true)) {
          log.warn("Pathling answered {} to a search by FHIRPath filter ({}); deletes of resources the relay never sent"
              + " go to Pathling without asking first", e.getStatusCode(), e.getMessage());
        }
        return Set.copyOf(ids);
      }
      throw translate(e, "search for " + ids.size() + " " + type + " id(s)");
    } catch (RuntimeException e) {
      throw translate(e, "search for " + ids.size() + " " + type + " id(s)");
    }
    held.retainAll(ids);
    return held;
  }

  private static IdType toId(ResourceKey key) {
    return new IdType(key.type(), key.id());
  }

  private RuntimeException translate(RuntimeException e, String what) {
    if (e instanceof AuthenticationFailedException refused) {
      // The credentials are wrong: nothing is dropped, the forwarder backs off and says why.
      return new RetriableWriteException(refused.getMessage(), 401, null, e);
    }
    if (e instanceof BaseServerResponseException response) {
      int status = response.getStatusCode();
      String message = "Pathling answered " + status + " to the " + what + ": " + response.getMessage();
      if (retriable(status)) {
        Duration wait = retryAfter.lastRetryAfter().flatMap(pathling::retryAfter).orElse(null);
        return new RetriableWriteException(message, status, wait, e);
      }
      String outcome =
          response.getOperationOutcome() != null
              ? fhirContext.newJsonParser().encodeResourceToString(response.getOperationOutcome())
              : response.getMessage();
      return new RejectedWriteException(message, status, outcome);
    }
    if (e instanceof FhirClientConnectionException) {
      return new RetriableWriteException(
          "Pathling did not answer the " + what + ": " + e.getMessage(), 0, null, e);
    }
    return new RetriableWriteException(
        "The " + what + " failed: " + e.getMessage(), 0, null, e);
  }

  /** Auth failures are retried, not dead-lettered: the resources are fine, the credentials not. */
  private static boolean retriable(int status) {
    return status >= 500 || status == 429 || status == 408 || status == 401 || status == 403
        || status == 409;
  }
}
