package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import java.util.ArrayList;
import java.util.List;
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

  BundleNotificationProvider(NotificationParser parser, DurableAcknowledger acknowledger) {
    this.parser = parser;
    this.acknowledger = acknowledger;
  }

  @Transaction
  public Bundle receive(@TransactionParam Bundle bundle) {
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

  private Change changeOf(BundleEntryComponent entry) {
    HTTPVerb method = entry.hasRequest() ? entry.getRequest().getMethod() : null;
    if (method == HTTPVerb.DELETE) {
      IdType target = new IdType(entry.getRequest().getUrl());
      if (!target.hasResourceType() || !target.hasIdPart() || entry.getRequest().getUrl().contains("?")) {
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
      if (target.hasIdPart() && !target.getIdPart().equals(change.key().id())) {
        throw new InvalidRequestException(
            "the resource's id '" + change.key().id() + "' does not match the request URL '"
                + entry.getRequest().getUrl() + "'");
      }
      return change;
    }
    return parser.upsert(entry.getResource());
  }
}
