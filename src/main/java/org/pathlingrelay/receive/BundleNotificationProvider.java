package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.IdType;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Disposition;
import org.pathlingrelay.outbox.Operation;

/**
 * {@code POST [base]} with a batch, transaction or history Bundle: every entry becomes a change,
 * and the answer is the matching response Bundle with one entry per entry. The Bundle is taken
 * whole or not at all: one entry that cannot be synced rejects it before anything is stored.
 */
final class BundleNotificationProvider {

  private final NotificationParser parser;
  private final DurableAcknowledger acknowledger;
  private final Optional<SourceReader> source;

  BundleNotificationProvider(
      NotificationParser parser, DurableAcknowledger acknowledger, Optional<SourceReader> source) {
    this.parser = parser;
    this.acknowledger = acknowledger;
    this.source = source;
  }

  /** The Bundle types a notification comes in; a document or a collection is no list of changes. */
  private static final Set<BundleType> NOTIFICATION_TYPES =
      EnumSet.of(BundleType.BATCH, BundleType.TRANSACTION, BundleType.HISTORY);

  @Transaction
  public Bundle receive(@TransactionParam Bundle bundle) {
    if (!NOTIFICATION_TYPES.contains(bundle.getType())) {
      throw new InvalidRequestException(
          "A Bundle of type '" + bundle.getType() + "' is not a notification: send batch, transaction or history");
    }
    Optional<TopicNotification> topic = TopicNotification.of(bundle);
    if (topic.isPresent()) {
      return receiveTopic(bundle, topic.get());
    }
    List<Change> changes = new ArrayList<>(bundle.getEntry().size());
    for (int i = 0; i < bundle.getEntry().size(); i++) {
      try {
        changes.add(changeOf(bundle.getEntry().get(i)));
      } catch (InvalidRequestException e) {
        throw new InvalidRequestException("Bundle entry " + i + ": " + e.getMessage());
      }
    }
    List<Disposition> dispositions = acknowledger.store(changes);
    Bundle response = new Bundle();
    response.setType(
        bundle.getType() == BundleType.TRANSACTION
            ? BundleType.TRANSACTIONRESPONSE
            : BundleType.BATCHRESPONSE);
    for (int i = 0; i < changes.size(); i++) {
      Change change = changes.get(i);
      BundleEntryComponent entry = response.addEntry();
      entry.getResponse().setStatus(change.operation() == Operation.DELETE ? "204 No Content" : "200 OK");
      entry.getResponse().setLocation(change.key().toString());
      entry.getResponse().setOutcome(
          Outcomes.information(ResourceNotificationProvider.describe(change, dispositions.get(i))));
    }
    return response;
  }

  /**
   * A topic-based notification: {@code full-resource} entries carry the resource (or a DELETE
   * request); {@code id-only} entries only name it, so it is read from the source (gone there:
   * a delete); {@code empty} ones, and missed event numbers, trigger a catch-up. Handshakes and
   * heartbeats are recorded. The answer is always a Bundle: HAPI treats a bodiless 200 as failure.
   */
  private Bundle receiveTopic(Bundle bundle, TopicNotification notification) {
    List<BundleEntryComponent> events = bundle.getEntry().subList(1, bundle.getEntry().size());
    List<Change> changes = new ArrayList<>(events.size());
    boolean needsCatchUp = notification.carriesEvents() && events.isEmpty();
    for (int i = 0; i < events.size(); i++) {
      BundleEntryComponent entry = events.get(i);
      try {
        if (entry.hasResource() || (entry.hasRequest() && entry.getRequest().getMethod() == HTTPVerb.DELETE)) {
          changes.add(changeOf(entry));
          continue;
        }
        IdType named = new IdType(entry.hasFullUrl() ? entry.getFullUrl() : entry.getRequest().getUrl());
        if (!named.hasResourceType() || !named.hasIdPart()) {
          throw new InvalidRequestException("the entry names no resource");
        }
        if (source.isEmpty()) {
          needsCatchUp = true; // id-only without a source to read from: let a catch-up fetch it
          continue;
        }
        parser.requireKnownType(named.getResourceType());
        parser.requireValidId(named.getIdPart());
        Optional<IBaseResource> current;
        try {
          current = source.get().read(named.getResourceType(), named.getIdPart());
        } catch (SourceReader.UnavailableException e) {
          BaseServerResponseException unavailable =
              new UnclassifiedServerFailureException(503, "The source could not be read: " + e.getMessage() + "; please retry");
          unavailable.addResponseHeader("Retry-After", "10");
          throw unavailable;
        }
        changes.add(current.isPresent()
            ? parser.upsert(current.get())
            : parser.delete(named.getResourceType(), named.getIdPart()));
      } catch (InvalidRequestException e) {
        throw new InvalidRequestException("Bundle entry " + (i + 1) + ": " + e.getMessage());
      }
    }
    if (!changes.isEmpty()) {
      acknowledger.store(changes);
    }
    boolean missed = acknowledger.subscriptionEvent(notification.event());
    if (needsCatchUp && !missed) {
      acknowledger.ping();
    }
    Bundle response = new Bundle();
    response.setType(BundleType.BATCHRESPONSE);
    for (int i = 0; i < bundle.getEntry().size(); i++) {
      response.addEntry().getResponse().setStatus("200 OK");
    }
    return response;
  }

  private Change changeOf(BundleEntryComponent entry) {
    HTTPVerb method = entry.hasRequest() ? entry.getRequest().getMethod() : null;
    if (method == HTTPVerb.DELETE) {
      IdType target = new IdType(entry.getRequest().getUrl());
      if (!target.hasResourceType() || !target.hasIdPart() || entry.getRequest().getUrl().contains("?")
          || hasDotSegment(entry.getRequest().getUrl())) {
        throw new InvalidRequestException(
            "a DELETE must name one resource as Type/id, not '" + entry.getRequest().getUrl() + "'");
      }
      return parser.delete(target.getResourceType(), target.getIdPart());
    }
    if (method != null && method != HTTPVerb.PUT && method != HTTPVerb.POST) {
      throw new InvalidRequestException("only PUT, POST and DELETE entries can be synced, not " + method);
    }
    if (!entry.hasResource()) {
      throw new InvalidRequestException("the entry has no resource");
    }
    if (method == HTTPVerb.PUT && entry.getRequest().hasUrl()) {
      IdType target = new IdType(entry.getRequest().getUrl());
      Change change = parser.upsert(entry.getResource());
      if (target.hasResourceType() && !target.getResourceType().equals(change.key().type())) {
        throw new InvalidRequestException(
            "the entry holds a " + change.key().type() + " but its request URL names '"
                + entry.getRequest().getUrl() + "'");
      }
      if (target.hasIdPart() && !target.getIdPart().equals(change.key().id())) {
        throw new InvalidRequestException(
            "the resource's id '" + change.key().id() + "' does not match the request URL '"
                + entry.getRequest().getUrl() + "'");
      }
      return change;
    }
    return parser.upsert(entry.getResource());
  }

  /** IdType reads only the last segments, so "Patient/../Observation/x" would name Observation/x. */
  private static boolean hasDotSegment(String url) {
    return Arrays.stream(url.split("/")).anyMatch(segment -> segment.equals(".") || segment.equals(".."));
  }
}
