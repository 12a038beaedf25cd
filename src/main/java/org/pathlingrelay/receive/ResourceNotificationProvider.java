package org.pathlingrelay.receive;

import ca.uhn.fhir.rest.annotation.Create;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.api.PreferReturnEnum;
import ca.uhn.fhir.rest.api.server.IRestfulServer;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import java.util.List;
import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.IdType;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Disposition;

/**
 * Classic rest-hook notifications for one resource type: {@code PUT [type]/[id]} and
 * {@code POST [type]} upsert, {@code DELETE [type]/[id]} deletes. HAPI JPA's {@code If-Match}
 * header is ignored: the outbox orders versions itself.
 */
final class ResourceNotificationProvider implements IResourceProvider {

  private final Class<? extends IBaseResource> resourceClass;
  private final String type;
  private final NotificationParser parser;
  private final DurableAcknowledger acknowledger;

  ResourceNotificationProvider(
      Class<? extends IBaseResource> resourceClass,
      String type,
      NotificationParser parser,
      DurableAcknowledger acknowledger) {
    this.resourceClass = resourceClass;
    this.type = type;
    this.parser = parser;
    this.acknowledger = acknowledger;
  }

  @Override
  public Class<? extends IBaseResource> getResourceType() {
    return resourceClass;
  }

  // HAPI parses the body for its method binding anyway; taking its resource (and the raw bytes it
  // kept) avoids a second parse, which cost a fifth of the receiver's CPU.
  @Update
  public MethodOutcome update(
      @IdParam IdType id, @ResourceParam IBaseResource resource, RequestDetails request) {
    parser.requireValidId(id.getIdPart());
    Change change = parser.upsertParsed(type, id.getIdPart(), resource, request.loadRequestContents(),
        request.getHeader(Constants.HEADER_CONTENT_TYPE));
    return store(change, request);
  }

  // HAPI drops the id of a parsed resource on create; the raw body keeps it.
  @Create
  public MethodOutcome create(@ResourceParam String body, RequestDetails request) {
    Change change = parser.upsert(type, null, body, request.getHeader(Constants.HEADER_CONTENT_TYPE));
    return store(change, request);
  }

  @Delete
  public MethodOutcome delete(@IdParam IdType id) {
    // HAPI routes a type-level DELETE (a conditional delete, DELETE [type]?...) here without an id.
    if (id == null || !id.hasIdPart()) {
      throw new InvalidRequestException("A DELETE must name one resource as " + type + "/[id]");
    }
    Change change = parser.delete(type, id.getIdPart());
    // HAPI always answers a delete with the OperationOutcome, so this one waits for what it says.
    return outcome(change, acknowledger.store(List.of(change)).get(0));
  }

  /**
   * Hands an upsert to the outbox. HAPI answers one with a body (naming what the outbox did) only
   * when the sender asks for it ({@code Prefer: return=OperationOutcome}); otherwise the request
   * need not wait here for the commit: the filter holds the bodiless answer back until it lands.
   */
  private MethodOutcome store(Change change, RequestDetails request) {
    Optional<DeferredAnswer> deferred = DeferredAnswer.of(request);
    if (deferred.isPresent() && !wantsOutcome(request)) {
      deferred.get().after(acknowledger.storeLater(List.of(change)));
      return new MethodOutcome(new IdType(change.key().type(), change.key().id()));
    }
    return outcome(change, acknowledger.store(List.of(change)).get(0));
  }

  private static boolean wantsOutcome(RequestDetails request) {
    String prefer = request.getHeader(Constants.HEADER_PREFER);
    return prefer != null
        && request.getServer() instanceof IRestfulServer<?> server
        && RestfulServerUtils.parsePreferHeader(server, prefer).getReturn() == PreferReturnEnum.OPERATION_OUTCOME;
  }

  private static MethodOutcome outcome(Change change, Disposition disposition) {
    IIdType id = new IdType(change.key().type(), change.key().id());
    MethodOutcome outcome = new MethodOutcome(id);
    outcome.setOperationOutcome(Outcomes.information(describe(change, disposition)));
    return outcome;
  }

  static String describe(Change change, Disposition disposition) {
    return switch (disposition) {
      case QUEUED, REPLACED -> change.key() + " " + change.operation().name().toLowerCase()
          + " stored for forwarding to Pathling";
      case STALE -> change.key() + " ignored: a newer or equal version is already held";
    };
  }
}
