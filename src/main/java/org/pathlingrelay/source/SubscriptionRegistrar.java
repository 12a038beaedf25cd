package org.pathlingrelay.source;

import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.Subscription.SubscriptionStatus;
import org.hl7.fhir.r4.model.Subscription;
import org.pathlingrelay.http.Pause;

/**
 * Registers the relay's Subscriptions on the source, idempotently: the relay's own (tagged) ones
 * are matched by criteria and updated in place when the template or endpoint changed; then it waits
 * until the source has activated each one, and reports those it put in error.
 *
 * <p>Every search for the relay's own asks for a fresh answer ({@code Cache-Control: no-cache}):
 * HAPI JPA answers a search repeated within 60 s from its cache, which would hide what the last
 * run created. After creating, it searches again and keeps one per criteria, the one with the
 * lowest id, so that two runs at once end with the same single Subscription.
 */
public final class SubscriptionRegistrar {

  /** What happened to one Subscription. */
  public enum Action {
    CREATED,
    UPDATED,
    UNCHANGED,
    REMOVED,
    WOULD_CREATE,
    WOULD_UPDATE,
    WOULD_REMOVE
  }

  /**
   * @param status the source's status at the end ({@code active}, {@code error}, ...)
   * @param error the source's reason when it is in error, or why waiting gave up
   */
  public record Outcome(String criteria, String id, Action action, String status, Optional<String> error) {
    public boolean failed() {
      return error.isPresent();
    }
  }

  private static final int UNSUBSCRIBE_ROUNDS = 3;
  /** Server-assigned ids are numbers that grow: numeric ones first, by value; then the rest. */
  private static final Comparator<Subscription> OLDEST_FIRST = Comparator
      .comparing((Subscription s) -> !s.getIdElement().isIdPartValidLong())
      .thenComparing(s -> s.getIdElement().isIdPartValidLong() ? s.getIdElement().getIdPartAsLong() : 0L)
      .thenComparing(s -> s.getIdElement().getIdPart());

  private final IGenericClient client;
  private final Pause pause;
  private final Duration activationTimeout;

  public SubscriptionRegistrar(IGenericClient client, Pause pause, Duration activationTimeout) {
    this.client = client;
    this.pause = pause;
    this.activationTimeout = activationTimeout;
  }

  public List<Outcome> subscribe(List<Subscription> wanted, boolean dryRun) throws InterruptedException {
    Map<String, List<Subscription>> existing = ownedByCriteria();
    List<Outcome> outcomes = new ArrayList<>();
    List<Subscription> toActivate = new ArrayList<>();
    for (Subscription subscription : wanted) {
      List<Subscription> same = existing.getOrDefault(subscription.getCriteria(), List.of());
      // Two of ours for one criteria (an interrupted or concurrent run): keep the oldest, drop the rest.
      for (Subscription extra : same.stream().skip(1).toList()) {
        outcomes.add(remove(extra, dryRun));
      }
      if (same.isEmpty()) {
        if (dryRun) {
          outcomes.add(new Outcome(subscription.getCriteria(), "", Action.WOULD_CREATE, "", Optional.empty()));
          continue;
        }
        subscription.setStatus(SubscriptionStatus.REQUESTED);
        String id;
        try {
          id = client.create().resource(subscription).execute().getId().getIdPart();
        } catch (BaseServerResponseException e) {
          // HAPI refuses an invalid Subscription with 422 and stores nothing: report it, go on.
          outcomes.add(new Outcome(subscription.getCriteria(), "", Action.CREATED, "refused", Optional.of(refusal(e))));
          continue;
        }
        subscription.setId(id);
        toActivate.add(subscription);
        outcomes.add(new Outcome(subscription.getCriteria(), id, Action.CREATED, "requested", Optional.empty()));
        continue;
      }
      Subscription current = same.get(0);
      boolean healthy = current.getStatus() == SubscriptionStatus.ACTIVE || current.getStatus() == SubscriptionStatus.REQUESTED;
      if (fingerprint(current).equals(fingerprint(subscription)) && healthy) {
        outcomes.add(new Outcome(subscription.getCriteria(), current.getIdElement().getIdPart(), Action.UNCHANGED,
            current.getStatus().toCode(), Optional.empty()));
        if (current.getStatus() == SubscriptionStatus.REQUESTED) {
          toActivate.add(current);
        }
        continue;
      }
      String id = current.getIdElement().getIdPart();
      if (dryRun) {
        outcomes.add(new Outcome(subscription.getCriteria(), id, Action.WOULD_UPDATE, current.getStatus().toCode(), Optional.empty()));
        continue;
      }
      subscription.setId(id);
      subscription.setStatus(SubscriptionStatus.REQUESTED);
      try {
        client.update().resource(subscription).withId(id).execute();
      } catch (BaseServerResponseException e) {
        outcomes.add(new Outcome(subscription.getCriteria(), id, Action.UPDATED, "refused", Optional.of(refusal(e))));
        continue;
      }
      toActivate.add(subscription);
      outcomes.add(new Outcome(subscription.getCriteria(), id, Action.UPDATED, "requested", Optional.empty()));
    }
    if (!dryRun && outcomes.stream().anyMatch(o -> o.action() == Action.CREATED && !o.failed())) {
      outcomes = verifyCreated(outcomes, toActivate);
    }
    return awaitActivation(outcomes, toActivate);
  }

  /**
   * Searches again for what was just created: a run at the same time may have created one for the
   * same criteria. Keeps the one with the lowest id (both runs choose the same), removes the others,
   * and reports a created one the search cannot find (a source that ignores no-cache). Ours may be
   * gone because the other run removed it as the duplicate: then the one it kept is ours too.
   */
  private List<Outcome> verifyCreated(List<Outcome> outcomes, List<Subscription> toActivate) {
    Map<String, List<Subscription>> now = ownedByCriteria();
    List<Outcome> verified = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (outcome.action() != Action.CREATED || outcome.failed()) {
        verified.add(outcome);
        continue;
      }
      List<Subscription> same = now.getOrDefault(outcome.criteria(), List.of());
      if (same.isEmpty()) {
        toActivate.removeIf(s -> s.getIdElement().getIdPart().equals(outcome.id()));
        verified.add(new Outcome(outcome.criteria(), outcome.id(), Action.CREATED, "not found", Optional.of(
            "created, but a fresh search for the relay's Subscriptions does not find it; a later subscribe may"
                + " create another (the source must honour Cache-Control: no-cache)")));
        continue;
      }
      Subscription kept = same.get(0);
      String keptId = kept.getIdElement().getIdPart();
      for (Subscription duplicate : same.stream().skip(1).toList()) {
        verified.add(remove(duplicate, false));
      }
      if (keptId.equals(outcome.id())) {
        verified.add(outcome);
      } else {
        // Another run created the same one first: ours was the duplicate.
        toActivate.removeIf(s -> s.getIdElement().getIdPart().equals(outcome.id()));
        toActivate.add(kept);
        verified.add(new Outcome(outcome.criteria(), keptId, Action.UNCHANGED, kept.getStatus().toCode(), Optional.empty()));
      }
    }
    return verified;
  }

  /**
   * Removes the relay's own Subscriptions, and nothing else; then searches again, and removes what
   * a concurrent {@code subscribe} created meanwhile. What is still there after that is reported.
   */
  public List<Outcome> unsubscribe(boolean dryRun) {
    List<Outcome> outcomes = new ArrayList<>();
    List<Subscription> found = owned();
    for (int round = 0; round < UNSUBSCRIBE_ROUNDS && !found.isEmpty(); round++) {
      for (Subscription subscription : found) {
        outcomes.add(remove(subscription, dryRun));
      }
      if (dryRun) {
        return outcomes;
      }
      found = owned();
    }
    for (Subscription left : found) {
      outcomes.add(new Outcome(left.getCriteria(), left.getIdElement().getIdPart(), Action.REMOVED,
          left.getStatus() == null ? "" : left.getStatus().toCode(),
          Optional.of("still on the source after " + UNSUBSCRIBE_ROUNDS + " rounds of removal")));
    }
    return outcomes;
  }

  private Outcome remove(Subscription subscription, boolean dryRun) {
    String id = subscription.getIdElement().getIdPart();
    if (!dryRun) {
      client.delete().resourceById("Subscription", id).execute();
    }
    return new Outcome(subscription.getCriteria(), id, dryRun ? Action.WOULD_REMOVE : Action.REMOVED, "", Optional.empty());
  }

  private List<Outcome> awaitActivation(List<Outcome> outcomes, List<Subscription> pending) throws InterruptedException {
    Map<String, Outcome> byId = new HashMap<>();
    for (Subscription subscription : pending) {
      byId.put(subscription.getIdElement().getIdPart(), null);
    }
    Instant deadline = pause.now().plus(activationTimeout);
    while (byId.containsValue(null) && pause.now().isBefore(deadline)) {
      for (String id : List.copyOf(byId.keySet())) {
        if (byId.get(id) != null) {
          continue;
        }
        Subscription now;
        try {
          now = client.read().resource(Subscription.class).withId(id).execute();
        } catch (ResourceGoneException | ResourceNotFoundException e) {
          byId.put(id, new Outcome("", id, null, "deleted", Optional.of(
              "deleted on the source while waiting for it to turn active (another subscribe or unsubscribe?)")));
          continue;
        }
        if (now.getStatus() == SubscriptionStatus.ACTIVE) {
          byId.put(id, new Outcome(now.getCriteria(), id, null, "active", Optional.empty()));
        } else if (now.getStatus() == SubscriptionStatus.ERROR || now.getStatus() == SubscriptionStatus.OFF) {
          // HAPI writes why it failed into reason (error stays empty); other servers use error.
          String why = now.hasError() ? now.getError()
              : now.hasReason() ? now.getReason() : "the source set it to " + now.getStatus().toCode();
          byId.put(id, new Outcome(now.getCriteria(), id, null, now.getStatus().toCode(), Optional.of(why)));
        }
      }
      if (byId.containsValue(null)) {
        pause.pause(Duration.ofMillis(500));
      }
    }
    List<Outcome> result = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (!byId.containsKey(outcome.id())) {
        result.add(outcome);
        continue;
      }
      Outcome ended = byId.get(outcome.id());
      result.add(ended == null
          ? new Outcome(outcome.criteria(), outcome.id(), outcome.action(), "requested",
              Optional.of("not active after " + activationTimeout.toSeconds() + " s"))
          : new Outcome(outcome.criteria(), outcome.id(), outcome.action(), ended.status(), ended.error()));
    }
    return result;
  }

  private static String refusal(BaseServerResponseException e) {
    String detail = e.getOperationOutcome() instanceof OperationOutcome outcome && outcome.hasIssue()
        ? outcome.getIssueFirstRep().getDiagnostics() : e.getMessage();
    return "the source refused it (" + e.getStatusCode() + "): " + detail;
  }

  private Map<String, List<Subscription>> ownedByCriteria() {
    Map<String, List<Subscription>> byCriteria = owned().stream()
        .collect(Collectors.groupingBy(s -> Objects.toString(s.getCriteria(), ""), HashMap::new, Collectors.toList()));
    byCriteria.values().forEach(same -> same.sort(OLDEST_FIRST));
    return byCriteria;
  }

  /**
   * All Subscriptions carrying the relay's tag, across pages, as they are now: no-cache, since HAPI
   * JPA would otherwise answer from a search of up to a minute ago.
   */
  private List<Subscription> owned() {
    List<Subscription> owned = new ArrayList<>();
    Bundle page = client.search().forResource(Subscription.class)
        .withTag(SubscriptionTemplates.TAG_SYSTEM, SubscriptionTemplates.TAG_CODE)
        .cacheControl(new CacheControlDirective().setNoCache(true))
        .returnBundle(Bundle.class).execute();
    while (true) {
      for (Bundle.BundleEntryComponent entry : page.getEntry()) {
        if (entry.getResource() instanceof Subscription subscription
            && subscription.getMeta().getTag(SubscriptionTemplates.TAG_SYSTEM, SubscriptionTemplates.TAG_CODE) != null) {
          owned.add(subscription);
        }
      }
      if (page.getLink(Bundle.LINK_NEXT) == null) {
        return owned;
      }
      page = client.loadPage().next(page).execute();
    }
  }

  /** What makes two Subscriptions the same for our purpose; the source's own fields are ignored. */
  private static String fingerprint(Subscription subscription) {
    Subscription.SubscriptionChannelComponent channel = subscription.getChannel();
    StringBuilder text = new StringBuilder()
        .append(subscription.getCriteria()).append('|')
        .append(subscription.getReason()).append('|')
        .append(channel.getType() == null ? "" : channel.getType().toCode()).append('|')
        .append(channel.getEndpoint()).append('|')
        .append(channel.getPayload()).append('|')
        .append(channel.getHeader().stream().map(StringType::getValue).collect(Collectors.joining(",")));
    for (Extension extension : channel.getExtension()) {
      text.append('|').append(extension.getUrl()).append('=').append(extension.getValue() == null ? "" : extension.getValue().primitiveValue());
    }
    return text.toString();
  }
}
