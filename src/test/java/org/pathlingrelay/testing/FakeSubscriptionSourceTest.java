package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.SummaryEnum;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.ResourceVersionConflictException;
import ca.uhn.fhir.rest.server.exceptions.UnprocessableEntityException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.hl7.fhir.r4.model.BooleanType;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.Subscription;
import org.hl7.fhir.r4.model.Subscription.SubscriptionChannelType;
import org.hl7.fhir.r4.model.Subscription.SubscriptionStatus;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Specifies the fake: the HAPI FHIR JPA Subscription behaviour the relay's tests rely on. */
class FakeSubscriptionSourceTest {

  private static final String RELAY_SYSTEM = "urn:pathling-relay";
  private static final String RELAY_CODE = "managed";

  @RegisterExtension
  static final FakeSubscriptionSource source = new FakeSubscriptionSource();

  private static IGenericClient client;

  @BeforeAll
  static void client() {
    FhirContext ctx = FhirContext.forR4();
    ctx.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
    client = ctx.newRestfulGenericClient(source.baseUrl());
  }

  /** A Subscription as the relay's rest-hook template makes it. */
  private static Subscription relays(String type) {
    Subscription s = new Subscription();
    s.getMeta().addTag(RELAY_SYSTEM, RELAY_CODE, "Managed by pathling-relay");
    s.setStatus(SubscriptionStatus.REQUESTED);
    s.setReason("pathling-relay: keep " + type + " in sync with Pathling");
    s.setCriteria(type + "?");
    s.getChannel()
        .setType(SubscriptionChannelType.RESTHOOK)
        .setEndpoint("http://relay:8080/fhir")
        .setPayload("application/fhir+json")
        .addHeader("Authorization: Bearer s3cret")
        .addExtension(FakeSubscriptionSource.SEND_DELETE_MESSAGES, new BooleanType(true));
    return s;
  }

  private static Subscription relays(String type, Consumer<Subscription> change) {
    Subscription s = relays(type);
    change.accept(s);
    return s;
  }

  private static String create(Subscription s) {
    return client.create().resource(s).execute().getId().getIdPart();
  }

  private static Subscription read(String id) {
    return client.read().resource(Subscription.class).withId(id).execute();
  }

  private static Bundle search(String query) {
    return client.search().byUrl("Subscription" + query).returnBundle(Bundle.class).execute();
  }

  private static List<String> ids(Bundle bundle) {
    return bundle.getEntry().stream().map(e -> e.getResource().getIdElement().getIdPart()).toList();
  }

  @Nested
  class Create {

    @Test
    void storesRequestedAtVersionOneWithHapiMeta() {
      MethodOutcome outcome = client.create().resource(relays("Patient")).execute();

      assertThat(outcome.getCreated()).isTrue();
      assertThat(outcome.getId().getIdPart()).isEqualTo("1");
      assertThat(outcome.getId().getVersionIdPart()).isEqualTo("1");
      Subscription answered = (Subscription) outcome.getResource();
      assertThat(answered.getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      assertThat(answered.getMeta().getVersionId()).isEqualTo("1");
      assertThat(answered.getMeta().getLastUpdated()).isNotNull();
      assertThat(answered.getMeta().getSource()).matches("#[A-Za-z0-9]{16}");
      assertThat(answered.getMeta().getTag(RELAY_SYSTEM, RELAY_CODE)).isNotNull();
      Coding strategy = answered.getMeta().getTag(FakeSubscriptionSource.MATCHING_STRATEGY_SYSTEM,
          "IN_MEMORY");
      assertThat(strategy).isNotNull();
      assertThat(strategy.getDisplay()).isEqualTo("In-memory");
      assertThat(answered.getChannel().getHeader()).extracting(StringType::getValue)
          .containsExactly("Authorization: Bearer s3cret");
      assertThat(source.creates()).isEqualTo(1);
      assertThat(create(relays("Observation"))).isEqualTo("2");
    }

    @Test
    void ignoresAnIdInTheBody() {
      Subscription s = relays("Patient");
      s.setId("mine");
      assertThat(create(s)).isEqualTo("1");
      assertThat(source.subscription("mine")).isEmpty();
    }

    @Test
    void keepsTheSendDeleteMessagesExtension() {
      String id = create(relays("Patient"));

      Subscription back = read(id);
      assertThat(back.getChannel().getExtensionByUrl(FakeSubscriptionSource.SEND_DELETE_MESSAGES))
          .isNotNull()
          .extracting(e -> ((BooleanType) e.getValue()).booleanValue())
          .isEqualTo(true);
    }

    @Test
    void marksChainedCriteriaAsDatabaseMatched() {
      String id = create(relays("Observation", s -> s.setCriteria("Observation?subject.name=x")));

      assertThat(source.subscription(id).orElseThrow().getMeta()
          .getTag(FakeSubscriptionSource.MATCHING_STRATEGY_SYSTEM, "DATABASE")).isNotNull();
    }
  }

  @Nested
  class Activation {

    @Test
    void byDefaultTheFirstReadSeesRequestedAndTheNextActiveAtVersionTwo() {
      String id = create(relays("Patient"));

      Subscription first = read(id);
      Subscription second = read(id);

      assertThat(first.getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      assertThat(first.getMeta().getVersionId()).isEqualTo("1");
      assertThat(second.getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(second.getMeta().getVersionId()).isEqualTo("2");
      assertThat(second.getMeta().getLastUpdated())
          .isAfterOrEqualTo(first.getMeta().getLastUpdated());
      assertThat(second.getReason()).isEqualTo(first.getReason());
      assertThat(source.activations()).isEqualTo(1);
      assertThat(source.versions(id)).extracting(Subscription::getStatus)
          .containsExactly(SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE);
    }

    @Test
    void afterTheConfiguredNumberOfReads() {
      source.setActivationReads(3);
      String id = create(relays("Patient"));

      List<SubscriptionStatus> seen = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        seen.add(read(id).getStatus());
      }

      assertThat(seen).containsExactly(SubscriptionStatus.REQUESTED, SubscriptionStatus.REQUESTED,
          SubscriptionStatus.REQUESTED, SubscriptionStatus.ACTIVE);
    }

    @Test
    void zeroReadsActivatesRightAfterTheWrite() {
      source.setActivationReads(0);
      MethodOutcome outcome = client.create().resource(relays("Patient")).execute();

      assertThat(((Subscription) outcome.getResource()).getStatus())
          .isEqualTo(SubscriptionStatus.REQUESTED);
      assertThat(read(outcome.getId().getIdPart()).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
    }

    @Test
    void searchResultsCountAsReads() {
      String id = create(relays("Patient"));

      assertThat(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE).getEntryFirstRep().getResource())
          .extracting(r -> ((Subscription) r).getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
    }

    @Test
    void afterTheConfiguredDelayWhetherReadOrNot() {
      source.setActivationAfter(Duration.ofMillis(300));
      String id = create(relays("Patient"));

      assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      await().atMost(Duration.ofSeconds(5))
          .until(() -> source.subscription(id).orElseThrow().getStatus(),
              status -> status == SubscriptionStatus.ACTIVE);
      assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      List<Subscription> versions = source.versions(id);
      assertThat(versions).hasSize(2);
      assertThat(Duration.between(versions.get(0).getMeta().getLastUpdated().toInstant(),
          versions.get(1).getMeta().getLastUpdated().toInstant())).isEqualTo(Duration.ofMillis(300));
    }

    @Test
    void heldUntilActivatePending() {
      source.holdActivation();
      String a = create(relays("Patient"));
      String b = create(relays("Observation"));
      for (int i = 0; i < 5; i++) {
        assertThat(read(a).getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      }
      assertThat(source.pendingActivations()).isEqualTo(2);

      assertThat(source.activatePending()).isEqualTo(2);

      assertThat(read(a).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(read(b).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(source.pendingActivations()).isZero();
    }

    @Test
    void failedActivationSetsErrorAndPutsTheMessageInReason() {
      source.failCriteria("Patient?", "HAPI-0013: something went wrong");
      String id = create(relays("Patient"));
      String other = create(relays("Observation"));

      read(id);
      Subscription failed = read(id);
      read(other);

      assertThat(failed.getStatus()).isEqualTo(SubscriptionStatus.ERROR);
      assertThat(failed.getReason()).isEqualTo("HAPI-0013: something went wrong");
      assertThat(failed.hasError()).isFalse(); // HAPI writes the reason, not Subscription.error
      assertThat(failed.getMeta().getVersionId()).isEqualTo("2");
      assertThat(read(other).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(source.activationFailures()).isEqualTo(1);
      assertThat(source.activations()).isEqualTo(1);
    }

    @Test
    void unsupportedChannelTypesStayRequested() {
      String id = create(relays("Patient", s -> s.getChannel()
          .setType(SubscriptionChannelType.WEBSOCKET).setEndpoint(null).setPayload(null)));
      for (int i = 0; i < 3; i++) {
        assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      }
      assertThat(source.activatePending()).isZero();

      source.setSupportedChannelTypes(SubscriptionChannelType.RESTHOOK,
          SubscriptionChannelType.WEBSOCKET);

      assertThat(source.activatePending()).isEqualTo(1); // as HAPI's loader sweep would
      assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
    }

    @Test
    void aClientMayStoreActiveDirectly() {
      String id = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));

      Subscription back = read(id);
      assertThat(back.getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(back.getMeta().getVersionId()).isEqualTo("1");
      assertThat(source.activations()).isZero();
    }

    @Test
    void offAndErrorAreStoredWithoutValidation() {
      String id = create(relays("Patient", s -> {
        s.setStatus(SubscriptionStatus.OFF);
        s.setCriteria("not a criteria");
      }));

      Subscription back = read(id);
      assertThat(back.getStatus()).isEqualTo(SubscriptionStatus.OFF);
      assertThat(back.getMeta().getTag(FakeSubscriptionSource.MATCHING_STRATEGY_SYSTEM, "IN_MEMORY"))
          .isNull();
    }

    @Test
    void requestedAgainOnAnActiveOneIsActivatedAgain() {
      String id = create(relays("Patient"));
      read(id);
      Subscription active = read(id);

      active.setStatus(SubscriptionStatus.REQUESTED);
      active.getChannel().setEndpoint("http://relay:9090/fhir");
      client.update().resource(active).execute();

      Subscription pending = read(id);
      assertThat(pending.getStatus()).isEqualTo(SubscriptionStatus.REQUESTED);
      assertThat(pending.getMeta().getVersionId()).isEqualTo("3");
      Subscription again = read(id);
      assertThat(again.getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
      assertThat(again.getMeta().getVersionId()).isEqualTo("4");
      assertThat(again.getChannel().getEndpoint()).isEqualTo("http://relay:9090/fhir");
    }
  }

  @Nested
  class Validation {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "Foo?;HAPI-0013: Subscription.criteria contains invalid/unsupported resource type: Foo",
        "Patient/1?x=y;HAPI-0013: Subscription.criteria contains invalid/unsupported resource type: Patient/1",
        "Patient;HAPI-0014: Subscription.criteria must be in the form \"{Resource Type}?[params]\"",
        "?name=x;HAPI-0012: Subscription.criteria can not be parsed",
        "[];HAPI-0012: Subscription.criteria can not be parsed",
        "[Patient,Foo];HAPI-0013: Subscription.criteria contains invalid/unsupported resource type: Foo",
        "Patient?foo=bar;HAPI-0009: Invalid subscription criteria submitted: Patient?foo=bar "
            + "HAPI-0488: Failed to parse match URL[Patient?foo=bar] - Resource type Patient does "
            + "not have a parameter with name: foo",
    })
    void invalidCriteriaAreRefusedWith422AndNothingIsStored(String criteria, String message) {
      UnprocessableEntityException e = catchThrowableOfType(UnprocessableEntityException.class,
          () -> create(relays("Patient", s -> s.setCriteria(criteria))));

      assertThat(e.getStatusCode()).isEqualTo(422);
      assertThat(e.getMessage()).endsWith(message);
      assertThat(((OperationOutcome) e.getOperationOutcome()).getIssueFirstRep().getDiagnostics())
          .isEqualTo(message);
      assertThat(source.subscriptions()).isEmpty();
      assertThat(source.creates()).isZero();
    }

    @Test
    void acceptsTypeListsStarAndKnownParameters() {
      create(relays("Patient", s -> s.setCriteria("[Patient,Observation]")));
      create(relays("Patient", s -> s.setCriteria("[*]")));
      create(relays("Patient", s -> s.setCriteria("Observation?category=vital-signs&_tag=x")));
      assertThat(source.subscriptions()).hasSize(3);
    }

    @Test
    void refusesWhatHapiRefuses() {
      assertRefused(s -> s.setCriteria(" "),
          "HAPI-0011: Subscription.criteria must be populated");
      assertRefused(s -> s.setStatus(null), "HAPI-0008: Can not process submitted Subscription - "
          + "Subscription.status must be populated on this server");
      assertRefused(s -> s.getChannel().setType(null),
          "HAPI-0020: Subscription.channel.type must be populated");
      assertRefused(s -> s.getChannel().setEndpoint(null),
          "HAPI-0021: Rest-hook subscriptions must have Subscription.channel.endpoint defined");
      assertRefused(s -> s.getChannel().setPayload("text/plain"),
          "HAPI-1985: Invalid value for Subscription.channel.payload: text/plain");
      assertRefused(s -> s.getChannel().setType(SubscriptionChannelType.MESSAGE)
              .setEndpoint("http://x"),
          "HAPI-0017: Only 'channel' protocol is supported for Subscriptions with channel type "
              + "'message'");
      assertRefused(s -> s.addExtension(FakeSubscriptionSource.CROSS_PARTITION,
          new BooleanType(true)), "HAPI-2009: Cross partition subscription is not enabled on this server");
      assertThat(source.subscriptions()).isEmpty();
    }

    @Test
    void backportTopicSubscriptionsAreCheckedByTheirFilters() {
      Consumer<Subscription> topic = s -> {
        s.getMeta().addProfile(FakeSubscriptionSource.BACKPORT_PROFILE);
        s.setCriteria("http://example.org/SubscriptionTopic/any-change");
      };
      assertRefused(topic, "HAPI-0011: Subscription.criteria.extension with url "
          + FakeSubscriptionSource.BACKPORT_FILTER_CRITERIA + " must be populated");

      String id = create(relays("Patient", topic.andThen(s -> s.getCriteriaElement()
          .addExtension(FakeSubscriptionSource.BACKPORT_FILTER_CRITERIA, new StringType("Patient?")))));

      assertThat(source.subscription(id).orElseThrow().getMeta()
          .getTag(FakeSubscriptionSource.MATCHING_STRATEGY_SYSTEM, "TOPIC")).isNotNull();
    }

    @Test
    void validatesUpdatesToo() {
      String id = create(relays("Patient"));
      Subscription bad = relays("Patient", s -> s.setCriteria("Foo?"));
      bad.setId(id);

      UnprocessableEntityException e = catchThrowableOfType(UnprocessableEntityException.class,
          () -> client.update().resource(bad).execute());

      assertThat(e.getMessage()).contains("HAPI-0013");
      assertThat(source.subscription(id).orElseThrow().getCriteria()).isEqualTo("Patient?");
      assertThat(source.updates()).isZero();
    }

    @Test
    void unknownCodesAreRefusedByTheParserWith400() throws Exception {
      String body = """
          {"resourceType":"Subscription","status":"bogus","criteria":"Patient?",
           "channel":{"type":"rest-hook","endpoint":"http://relay"}}""";
      HttpResponse<String> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create(source.baseUrl() + "/Subscription"))
              .header("Content-Type", "application/fhir+json")
              .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());

      assertThat(response.statusCode()).isEqualTo(400);
      assertThat(source.subscriptions()).isEmpty();
    }

    private void assertRefused(Consumer<Subscription> change, String message) {
      UnprocessableEntityException e = catchThrowableOfType(UnprocessableEntityException.class,
          () -> create(relays("Patient", change)));
      assertThat(e).as(message).isNotNull();
      assertThat(e.getMessage()).endsWith(message);
    }
  }

  @Nested
  class Update {

    @Test
    void inPlaceBumpsTheVersion() {
      String id = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));
      Subscription changed = relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE));
      changed.setId(id);
      changed.setReason("changed");

      MethodOutcome outcome = client.update().resource(changed).execute();

      assertThat(outcome.getCreated()).isNotEqualTo(Boolean.TRUE);
      assertThat(outcome.getId().getIdPart()).isEqualTo(id);
      assertThat(outcome.getId().getVersionIdPart()).isEqualTo("2");
      assertThat(read(id).getReason()).isEqualTo("changed");
      assertThat(source.updates()).isEqualTo(1);
      assertThat(source.subscriptions()).hasSize(1);
    }

    @Test
    void anUnchangedPutKeepsTheVersion() {
      String id = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));
      Subscription same = relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE));
      same.setId(id);

      MethodOutcome outcome = client.update().resource(same).execute();

      assertThat(outcome.getId().getVersionIdPart()).isEqualTo("1");
      assertThat(source.versions(id)).hasSize(1);
    }

    @Test
    void tagsAreCarriedForwardUnlessSnapshotMode() {
      String id = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));
      Subscription untagged = relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE));
      untagged.getMeta().getTag().clear();
      untagged.setReason("untagged");
      untagged.setId(id);

      client.update().resource(untagged).execute();
      assertThat(read(id).getMeta().getTag(RELAY_SYSTEM, RELAY_CODE)).isNotNull();

      untagged.setReason("untagged again");
      client.update().resource(untagged).withAdditionalHeader("X-Meta-Snapshot-Mode", "TAG")
          .execute();
      Subscription back = read(id);
      assertThat(back.getMeta().getTag(RELAY_SYSTEM, RELAY_CODE)).isNull();
      assertThat(back.getMeta().getTag()).extracting(Coding::getSystem)
          .containsExactly(FakeSubscriptionSource.MATCHING_STRATEGY_SYSTEM);
    }

    @Test
    void aStaleIfMatchConflicts() {
      String id = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));
      Subscription changed = relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE));
      changed.setId(id);
      changed.setReason("v2");
      client.update().resource(changed).execute();
      changed.setReason("v3");

      ResourceVersionConflictException e = catchThrowableOfType(
          ResourceVersionConflictException.class,
          () -> client.update().resource(changed).withId(id).withAdditionalHeader("If-Match",
              "W/\"1\"").execute());

      assertThat(e.getStatusCode()).isEqualTo(409);
      assertThat(e.getMessage()).contains("HAPI-0989");
    }

    @Test
    void createsWithAClientIdUnlessItIsNumeric() {
      Subscription named = relays("Patient");
      named.setId("relay-patient");
      MethodOutcome outcome = client.update().resource(named).execute();
      assertThat(outcome.getCreated()).isTrue();
      assertThat(outcome.getId().getVersionIdPart()).isEqualTo("1");

      Subscription numeric = relays("Patient");
      numeric.setId("123");
      InvalidRequestException e = catchThrowableOfType(InvalidRequestException.class,
          () -> client.update().resource(numeric).execute());
      assertThat(e.getMessage()).contains("HAPI-0960: Can not create resource with ID[123], no "
          + "resource with this ID exists and clients may only assign IDs which contain at least "
          + "one non-numeric character");
      assertThat(source.creates()).isEqualTo(1);
    }
  }

  @Nested
  class Search {

    @Test
    void byTagFindsOnlyTaggedOnes() {
      String ours = create(relays("Patient"));
      String alsoOurs = create(relays("Observation"));
      String theirs = create(relays("Encounter", s -> s.getMeta().getTag().clear()));

      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE)))
          .containsExactly(ours, alsoOurs);
      assertThat(ids(search("?_tag=" + RELAY_CODE))).containsExactly(ours, alsoOurs);
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|"))).containsExactly(ours, alsoOurs);
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|other"))).isEmpty();
      assertThat(ids(search("?_tag:not=" + RELAY_SYSTEM + "|" + RELAY_CODE)))
          .containsExactly(theirs);
      assertThat(ids(search(""))).containsExactly(ours, alsoOurs, theirs);
      assertThat(ids(client.search().forResource(Subscription.class)
          .withTag(RELAY_SYSTEM, RELAY_CODE).returnBundle(Bundle.class).execute()))
          .containsExactly(ours, alsoOurs);
    }

    @Test
    void byStatusTypeUrlAndCriteria() {
      String patient = create(relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE)));
      String observation = create(relays("Observation", s -> s.getChannel()
          .setEndpoint("http://elsewhere/hook")));

      assertThat(ids(search("?status=active"))).containsExactly(patient);
      assertThat(ids(search("?status=requested,active"))).containsExactly(patient, observation);
      assertThat(ids(search("?type=rest-hook"))).containsExactly(patient, observation);
      assertThat(ids(search("?url=http://relay:8080/fhir"))).containsExactly(patient);
      assertThat(ids(search("?criteria=observ"))).containsExactly(observation);
      assertThat(ids(search("?criteria:exact=Observation"))).isEmpty();
      assertThat(ids(search("?_id=" + observation))).containsExactly(observation);
    }

    @Test
    void pagesLikeHapi() {
      Subscription[] many = new Subscription[25];
      for (int i = 0; i < many.length; i++) {
        many[i] = relays("Patient", s -> s.setStatus(SubscriptionStatus.ACTIVE));
      }
      source.seed(many);

      Bundle first = search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE);
      assertThat(first.getTotal()).isEqualTo(25);
      assertThat(first.getEntry()).hasSize(FakeSubscriptionSource.DEFAULT_PAGE_SIZE);
      assertThat(first.getLink(Bundle.LINK_NEXT)).isNotNull();
      Bundle second = client.loadPage().next(first).execute();
      assertThat(second.getEntry()).hasSize(5);
      assertThat(second.getLink(Bundle.LINK_NEXT)).isNull();

      assertThat(search("?_count=30").getEntry()).hasSize(25);
      Bundle count = client.search().forResource(Subscription.class).summaryMode(SummaryEnum.COUNT)
          .returnBundle(Bundle.class).execute();
      assertThat(count.getTotal()).isEqualTo(25);
    }
  }

  /** HAPI JPA's reuse_cached_search_results_millis: a repeated search is answered from its cache. */
  @Nested
  class SearchCache {

    private Bundle fresh(String query) {
      return client.search().byUrl("Subscription" + query)
          .cacheControl(new CacheControlDirective().setNoCache(true)).returnBundle(Bundle.class).execute();
    }

    @Test
    void aRepeatedSearchWithinTheWindow_answersWithTheEarlierResult_soANewOneIsNotFound() {
      String first = create(relays("Patient"));
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).containsExactly(first);
      create(relays("Observation"));

      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).containsExactly(first);
      assertThat(source.cachedSearchAnswers()).isEqualTo(1);
      assertThat(ids(search("?_tag=" + RELAY_CODE))).as("another query is not cached").hasSize(2);
    }

    @Test
    void anEmptyResult_isCachedToo_andDeletedOnesAreLeftOut() {
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).isEmpty();
      String created = create(relays("Patient"));
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).isEmpty();

      assertThat(ids(fresh("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).containsExactly(created);
      client.delete().resourceById("Subscription", created).execute();
      assertThat(ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))).isEmpty();
    }

    @Test
    void noCache_runsTheSearchAfresh_andLaterSearchesReuseThatResult() {
      assertThat(ids(search("?status=requested"))).isEmpty();
      String created = create(relays("Patient"));

      assertThat(ids(fresh("?status=requested"))).containsExactly(created);
      create(relays("Observation"));
      assertThat(ids(search("?status=requested"))).containsExactly(created);
    }

    @Test
    void afterTheWindow_theSearchRunsAgain() {
      source.setSearchCacheWindow(Duration.ofMillis(300));
      assertThat(ids(search("?status=requested"))).isEmpty();
      String created = create(relays("Patient"));

      await().atMost(Duration.ofSeconds(5))
          .untilAsserted(() -> assertThat(ids(search("?status=requested"))).containsExactly(created));
    }

    @Test
    void aZeroWindow_turnsTheCacheOff() {
      source.setSearchCacheWindow(Duration.ZERO);
      assertThat(ids(search("?status=requested"))).isEmpty();
      String created = create(relays("Patient"));
      assertThat(ids(search("?status=requested"))).containsExactly(created);
      assertThat(source.cachedSearchAnswers()).isZero();
    }
  }

  @Nested
  class Capabilities {

    @Test
    void listEveryR4ResourceType_asHapiJpaDoes() {
      CapabilityStatement statement = client.capabilities().ofType(CapabilityStatement.class).execute();
      List<String> types = statement.getRestFirstRep().getResource().stream()
          .map(CapabilityStatement.CapabilityStatementRestResourceComponent::getType).toList();
      assertThat(types).contains("Subscription", "Patient", "Specimen", "Observation").hasSizeGreaterThan(140)
          .doesNotHaveDuplicates();
    }
  }

  @Nested
  class Delete {

    @Test
    void deletesAndAnswersLikeHapi() {
      String id = create(relays("Patient"));

      MethodOutcome outcome = client.delete().resourceById("Subscription", id).execute();

      OperationOutcome oo = (OperationOutcome) outcome.getOperationOutcome();
      assertThat(oo.getIssueFirstRep().getDiagnostics())
          .matches("Successfully deleted 1 resource\\(s\\)\\. Took \\d+ms\\.");
      assertThat(oo.getIssueFirstRep().getDetails().getCodingFirstRep().getCode())
          .isEqualTo("SUCCESSFUL_DELETE");
      assertThat(source.deletes()).isEqualTo(1);
      assertThat(source.isDeleted(id)).isTrue();
      assertThat(source.subscriptions()).isEmpty();
      assertThat(ids(search(""))).isEmpty();
      ResourceGoneException gone = catchThrowableOfType(ResourceGoneException.class,
          () -> read(id));
      assertThat(gone.getMessage()).contains("Resource was deleted at ");
    }

    @Test
    void deletingTwiceOrUnknownStill200() {
      String id = create(relays("Patient"));
      client.delete().resourceById("Subscription", id).execute();

      OperationOutcome again = (OperationOutcome) client.delete()
          .resourceById("Subscription", id).execute().getOperationOutcome();
      OperationOutcome unknown = (OperationOutcome) client.delete()
          .resourceById("Subscription", "nope").execute().getOperationOutcome();

      assertThat(again.getIssueFirstRep().getDiagnostics())
          .isEqualTo("Not deleted, resource Subscription/" + id + "/_history/2 was already deleted.");
      assertThat(unknown.getIssueFirstRep().getDiagnostics())
          .isEqualTo("Not deleted, resource Subscription/nope does not exist.");
      assertThat(source.deletes()).isEqualTo(1);
      ResourceNotFoundException notKnown = catchThrowableOfType(ResourceNotFoundException.class,
          () -> read("nope"));
      assertThat(notKnown.getMessage()).contains("HAPI-2001: Resource Subscription/nope is not known");
    }

    @Test
    void aPutBringsADeletedOneBack() {
      String id = create(relays("Patient"));
      client.delete().resourceById("Subscription", id).execute();
      Subscription back = relays("Patient");
      back.setId(id);

      MethodOutcome outcome = client.update().resource(back).execute();

      assertThat(outcome.getCreated()).isTrue();
      assertThat(outcome.getId().getVersionIdPart()).isEqualTo("3");
      assertThat(source.isDeleted(id)).isFalse();
    }

    @Test
    void aPendingOneIsNeverActivatedOnceDeleted() {
      source.holdActivation();
      String id = create(relays("Patient"));
      client.delete().resourceById("Subscription", id).execute();

      assertThat(source.activatePending()).isZero();
      assertThat(source.versions(id)).hasSize(1);
    }
  }

  @Nested
  class Seeded {

    @Test
    void foreignSubscriptionsAreStoredAsGivenAndSurviveDeletingTheRelaysOnes() {
      Subscription foreign = new Subscription();
      foreign.setStatus(SubscriptionStatus.ACTIVE);
      foreign.setCriteria("Patient?");
      foreign.setReason("someone else's");
      foreign.getChannel().setType(SubscriptionChannelType.RESTHOOK)
          .setEndpoint("http://analytics/hook");
      Subscription named = foreign.copy();
      named.setId("analytics");
      List<String> seeded = source.seed(foreign, named);
      String ours = create(relays("Patient"));

      assertThat(seeded).containsExactly("1", "analytics");
      assertThat(ours).isEqualTo("2");
      Subscription stored = read("1");
      assertThat(stored.getMeta().getVersionId()).isEqualTo("1");
      assertThat(stored.getMeta().getTag()).isEmpty();
      assertThat(source.creates()).isEqualTo(1);
      assertThat(source.requests()).extracting(RecordedRequest::method)
          .containsExactly("POST", "GET");

      for (String id : ids(search("?_tag=" + RELAY_SYSTEM + "|" + RELAY_CODE))) {
        client.delete().resourceById("Subscription", id).execute();
      }

      assertThat(source.subscriptions()).extracting(s -> s.getIdElement().getIdPart())
          .containsExactly("1", "analytics");
      assertThat(source.subscriptionsTagged(RELAY_SYSTEM, RELAY_CODE)).isEmpty();
    }

    @Test
    void aSeededRequestedOneIsActivatedLikeAnyOther() {
      Subscription pending = relays("Patient");
      String id = source.seed(pending).get(0);

      read(id);

      assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
    }
  }

  @Nested
  class FailureInjection {

    @Test
    void failNextFailsAnyRequestAndAppliesNothing() {
      source.failNext(2, 503);

      BaseServerResponseException post = catchThrowableOfType(BaseServerResponseException.class,
          () -> create(relays("Patient")));
      BaseServerResponseException get = catchThrowableOfType(BaseServerResponseException.class,
          () -> search(""));
      String id = create(relays("Patient"));

      assertThat(post.getStatusCode()).isEqualTo(503);
      assertThat(get.getStatusCode()).isEqualTo(503);
      assertThat(id).isEqualTo("1");
      assertThat(source.creates()).isEqualTo(1);
      assertThat(source.requests()).extracting(RecordedRequest::status)
          .containsExactly(503, 503, 201);
      assertThat(source.writes()).extracting(RecordedRequest::toString)
          .containsExactly("POST /Subscription -> 503 [POST Subscription]",
              "POST /Subscription -> 201 [POST Subscription]");
    }
  }

  @Nested
  class Concurrency {

    @Test
    void concurrentCreatesGetDistinctIds() throws Exception {
      ExecutorService executor = Executors.newFixedThreadPool(4);
      try {
        List<Callable<String>> tasks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          tasks.add(() -> create(relays("Patient")));
        }
        List<String> ids = new ArrayList<>();
        for (Future<String> future : executor.invokeAll(tasks)) {
          ids.add(future.get());
        }
        assertThat(ids).doesNotHaveDuplicates().hasSize(20);
        assertThat(source.subscriptions()).hasSize(20);
        assertThat(source.creates()).isEqualTo(20);
      } finally {
        executor.shutdownNow();
      }
    }
  }

  @Test
  void resetClearsEverything() {
    source.holdActivation();
    source.failCriteria("Patient?", "x");
    create(relays("Patient"));

    source.reset();

    assertThat(source.subscriptions()).isEmpty();
    assertThat(source.requests()).isEmpty();
    assertThat(source.creates()).isZero();
    String id = create(relays("Patient"));
    assertThat(id).isEqualTo("1");
    read(id);
    assertThat(read(id).getStatus()).isEqualTo(SubscriptionStatus.ACTIVE);
  }
}
