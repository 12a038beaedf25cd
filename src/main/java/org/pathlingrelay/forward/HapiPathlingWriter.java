package org.pathlingrelay.forward;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.client.apache.ApacheRestfulClientFactory;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.IdType;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.AuthenticationFailedException;
import org.pathlingrelay.auth.BearerTokenInterceptor;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceKey;

/** Writes to Pathling through HAPI's generic client. */
public final class HapiPathlingWriter implements PathlingWriter {

  private final FhirContext fhirContext;
  private final IGenericClient client;
  private final RetryAfterCapture retryAfter = new RetryAfterCapture();

  public HapiPathlingWriter(
      FhirContext fhirContext, String baseUrl, AccessTokens tokens, Duration timeout) {
    this.fhirContext = fhirContext;
    // A factory of our own, so these timeouts do not leak into other clients of the context.
    ApacheRestfulClientFactory factory = new ApacheRestfulClientFactory(fhirContext);
    factory.setServerValidationMode(ServerValidationModeEnum.NEVER);
    factory.setConnectTimeout((int) Math.min(timeout.toMillis(), 10_000));
    factory.setConnectionRequestTimeout((int) timeout.toMillis());
    factory.setSocketTimeout((int) timeout.toMillis());
    factory.setPoolMaxPerRoute(32);
    factory.setPoolMaxTotal(32);
    this.client = factory.newGenericClient(baseUrl);
    client.registerInterceptor(retryAfter);
    client.registerInterceptor(new BearerTokenInterceptor(tokens));
  }

  @Override
  public void putBatch(String type, List<Change> upserts) {
    Bundle bundle = new Bundle();
    bundle.setType(BundleType.BATCH);
    IParser parser = fhirContext.newJsonParser();
    for (Change change : upserts) {
      BundleEntryComponent entry = bundle.addEntry();
      entry.setResource((org.hl7.fhir.r4.model.Resource) parser.parseResource(change.body()));
      entry.getRequest().setMethod(HTTPVerb.PUT).setUrl(change.key().toString());
    }
    Bundle response;
    try {
      response = client.transaction().withBundle(bundle).execute();
    } catch (RuntimeException e) {
      throw translate(e, "batch of " + upserts.size() + " " + type);
    }
    for (BundleEntryComponent entry : response.getEntry()) {
      String status = entry.getResponse().getStatus();
      if (status == null || !status.startsWith("2")) {
        throw new RejectedWriteException(
            "Pathling answered " + status + " for an entry of a batch of " + type,
            400,
            entry.getResponse().hasOutcome()
                ? fhirContext.newJsonParser().encodeResourceToString(entry.getResponse().getOutcome())
                : "entry status " + status);
      }
    }
  }

  @Override
  public void put(Change upsert) {
    IBaseResource resource = fhirContext.newJsonParser().parseResource(upsert.body());
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
        Duration wait = retryAfter.lastRetryAfter().flatMap(HapiPathlingWriter::parseRetryAfter).orElse(null);
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

  /** Retry-After is either delta-seconds or an HTTP date. */
  static Optional<Duration> parseRetryAfter(String value) {
    String trimmed = value.trim();
    try {
      return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(trimmed))));
    } catch (NumberFormatException notSeconds) {
      try {
        Instant at = ZonedDateTime.parse(trimmed, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        Duration wait = Duration.between(Instant.now(), at);
        return Optional.of(wait.isNegative() ? Duration.ZERO : wait);
      } catch (DateTimeParseException notDate) {
        return Optional.empty();
      }
    }
  }
}
