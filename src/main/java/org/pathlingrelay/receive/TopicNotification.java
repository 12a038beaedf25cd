package org.pathlingrelay.receive;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Parameters.ParametersParameterComponent;
import org.hl7.fhir.r4.model.Reference;
import org.pathlingrelay.outbox.SubscriptionEvent;

/**
 * A topic-based notification of the R4 Subscriptions Backport IG: a {@code history} Bundle whose
 * first entry is the SubscriptionStatus, as a {@code Parameters} with the backport status profile.
 */
record TopicNotification(String subscription, String type, OptionalLong eventsSinceStart, List<Long> eventNumbers) {

  static final String STATUS_PROFILE =
      "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4";

  static Optional<TopicNotification> of(Bundle bundle) {
    if (bundle.getType() != BundleType.HISTORY || bundle.getEntry().isEmpty()
        || !(bundle.getEntryFirstRep().getResource() instanceof Parameters status)) {
      return Optional.empty();
    }
    boolean profiled = status.getMeta().getProfile().stream().anyMatch(p -> STATUS_PROFILE.equals(p.getValue()));
    if (!profiled && status.getParameter("type") == null) {
      return Optional.empty();
    }
    String subscription = Optional.ofNullable(status.getParameter("subscription"))
        .map(p -> p.getValue() instanceof Reference r ? r.getReference() : p.getValue() == null ? null : p.getValue().primitiveValue())
        .orElse("unknown");
    String type = Optional.ofNullable(status.getParameter("type"))
        .map(p -> p.getValue() == null ? null : p.getValue().primitiveValue()).orElse("event-notification");
    OptionalLong since = number(status.getParameter("events-since-subscription-start"));
    List<Long> events = new ArrayList<>();
    for (ParametersParameterComponent parameter : status.getParameter()) {
      if ("notification-event".equals(parameter.getName())) {
        for (ParametersParameterComponent part : parameter.getPart()) {
          if ("event-number".equals(part.getName())) {
            number(part).ifPresent(events::add);
          }
        }
      }
    }
    return Optional.of(new TopicNotification(subscription, type, since, events));
  }

  /** The IG carries these counters as strings (integer64) in R4; accept integers too. */
  private static OptionalLong number(ParametersParameterComponent parameter) {
    if (parameter == null || parameter.getValue() == null) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(parameter.getValue().primitiveValue().trim()));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  boolean carriesEvents() {
    return "event-notification".equals(type) || "query-event".equals(type);
  }

  SubscriptionEvent event() {
    return new SubscriptionEvent(subscription, type, eventNumbers, eventsSinceStart);
  }
}
