package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.source.SubscriptionTemplates;
import org.pathlingrelay.testing.FakeSubscriptionSource;
import picocli.CommandLine;

/** {@code subscribe} and {@code unsubscribe} against a source that manages Subscriptions as HAPI does. */
class SubscribeCommandTest {

  @RegisterExtension static final FakeSubscriptionSource source = new FakeSubscriptionSource();

  private static final String SECRET = "subscribe-secret";
  private static final Path TEMPLATES = Path.of("subscriptions");

  private record Run(int exitCode, String out) {}

  private Run run(String... args) throws Exception {
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of("RELAY_SECRET", SECRET)));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    return new Run(commandLine.execute(args), out.toString());
  }

  private Run subscribe(String... extra) throws Exception {
    String[] base = {"subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir",
        "--dir", TEMPLATES.toString(), "--activation-timeout", "10s"};
    String[] args = new String[base.length + extra.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(extra, 0, args, base.length, extra.length);
    return run(args);
  }

  private static List<Subscription> ours() {
    return source.subscriptionsTagged(SubscriptionTemplates.TAG_SYSTEM, SubscriptionTemplates.TAG_CODE);
  }

  /** The types of the source's CapabilityStatement: what a backfill without --type exports. */
  private static List<String> servedTypes() {
    return source.newClient().capabilities().ofType(CapabilityStatement.class).execute().getRestFirstRep().getResource()
        .stream().map(CapabilityStatement.CapabilityStatementRestResourceComponent::getType).toList();
  }

  @Test
  void subscribe_coversEveryTypeTheSourceServes_waitsUntilActive_andFillsInEndpointAndSecret() throws Exception {
    source.setActivationReads(2);
    Run run = subscribe();

    assertThat(run.exitCode()).as(run.out()).isZero();
    List<String> expected = servedTypes().stream().filter(t -> !t.equals("Subscription")).map(t -> t + "?").toList();
    assertThat(expected).hasSizeGreaterThan(100).contains("Patient?", "Specimen?", "Medication?");
    assertThat(ours()).extracting(Subscription::getCriteria).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(ours()).allSatisfy(subscription -> {
      assertThat(subscription.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE);
      assertThat(subscription.getChannel().getEndpoint()).isEqualTo("http://relay:8080/fhir");
      assertThat(subscription.getChannel().getHeader()).extracting(h -> h.getValue())
          .containsExactly("Authorization: Bearer " + SECRET);
      assertThat(subscription.getChannel().getExtensionByUrl(
          "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages")).isNotNull();
    });
    long ownTemplates;
    try (var files = Files.list(TEMPLATES.resolve("rest-hook"))) {
      ownTemplates = files.filter(f -> !f.getFileName().toString().startsWith("_")).count();
    }
    assertThat(run.out()).contains("Patient?").contains("active").doesNotContain(SECRET)
        .contains(" backfill --source-url ")
        .contains(String.format("Subscribing the %d resource types the source serves (what a backfill exports): %d with a"
            + " template of their own, %d with _template.json.", expected.size(), ownTemplates, expected.size() - ownTemplates))
        .contains("Not subscribed: Subscription");
  }

  @Test
  void subscribe_withTheAllFlag_isTheDefault() throws Exception {
    Run run = subscribe("--all", "--dry-run");
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(run.out()).contains("Specimen?").contains("would create");
  }

  @Test
  void subscribe_whenTheSourceHasNoCapabilityStatement_subscribesTheTemplatedTypes_andWarnsAboutTheRest() throws Exception {
    source.failNext(1, 404);
    Run run = subscribe();
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(run.out()).contains("warning: cannot read the source's CapabilityStatement")
        .contains("any other type a backfill loads changes in Pathling only at the next catch-up");
    assertThat(ours()).extracting(Subscription::getCriteria).contains("Patient?").doesNotContain("Specimen?");
  }

  /** The fake answers a repeated search from its cache for 60 s, as HAPI JPA: so these runs see stale searches. */
  @Test
  void subscribingTwiceWithinAMinute_leavesOnePerType_andChangesNothingTheSecondTime() throws Exception {
    assertThat(subscribe("--types", "Patient,Observation").exitCode()).isZero();
    int writes = source.creates() + source.updates();
    Run again = subscribe("--types", "Patient,Observation");
    assertThat(again.exitCode()).as(again.out()).isZero();
    assertThat(ours()).hasSize(2);
    assertThat(source.creates() + source.updates()).isEqualTo(writes);
    assertThat(again.out()).contains("unchanged");
  }

  @Test
  void subscribingTwiceAtTheSameTime_leavesOnePerType_bothReportingTheKeptOne() throws Exception {
    source.setActivationAfter(Duration.ofMillis(300));
    ExecutorService both = Executors.newFixedThreadPool(2);
    try {
      CountDownLatch start = new CountDownLatch(1);
      Callable<Run> run = () -> {
        start.await();
        return subscribe("--types", "Patient,Observation,Condition");
      };
      Future<Run> first = both.submit(run);
      Future<Run> second = both.submit(run);
      start.countDown();
      Run one = first.get(30, TimeUnit.SECONDS);
      Run two = second.get(30, TimeUnit.SECONDS);

      assertThat(one.exitCode()).as(one.out()).isZero();
      assertThat(two.exitCode()).as(two.out()).isZero();
      assertThat(ours()).extracting(Subscription::getCriteria)
          .containsExactlyInAnyOrder("Patient?", "Observation?", "Condition?");
      assertThat(ours()).allSatisfy(s -> assertThat(s.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE));
      for (Subscription kept : ours()) {
        String row = kept.getCriteria() + ".* " + kept.getIdElement().getIdPart() + "\\R";
        assertThat(one.out()).as(one.out()).containsPattern(row);
        assertThat(two.out()).as(two.out()).containsPattern(row);
      }
    } finally {
      both.shutdownNow();
    }
  }

  @Test
  void aChangedEndpoint_updatesTheSubscriptionInPlace() throws Exception {
    subscribe("--types", "Patient");
    String id = ours().get(0).getIdElement().getIdPart();
    Run moved = run("subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay-2:8080/fhir",
        "--dir", TEMPLATES.toString(), "--types", "Patient", "--activation-timeout", "10s");
    assertThat(moved.exitCode()).as(moved.out()).isZero();
    assertThat(ours()).singleElement().satisfies(s -> {
      assertThat(s.getIdElement().getIdPart()).isEqualTo(id);
      assertThat(s.getChannel().getEndpoint()).isEqualTo("http://relay-2:8080/fhir");
      assertThat(s.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE);
    });
    assertThat(moved.out()).contains("updated");
  }

  @Test
  void aSubscriptionTheSourcePutsInError_isReportedWithItsReason_andTheExitCodeIsNonZero() throws Exception {
    source.failCriteria("Observation?", "Observation subscriptions are disabled here");
    Run run = subscribe("--types", "Patient,Observation");
    assertThat(run.exitCode()).isEqualTo(1);
    assertThat(run.out()).contains("Observation subscriptions are disabled here");
  }

  @Test
  void aTypeWithoutItsOwnTemplate_usesTheGenericOne() throws Exception {
    Run run = subscribe("--types", "Specimen");
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(ours()).singleElement().satisfies(s -> assertThat(s.getCriteria()).isEqualTo("Specimen?"));
  }

  @Test
  void dryRun_changesNothing() throws Exception {
    Run run = subscribe("--types", "Patient", "--dry-run");
    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("would create");
    assertThat(source.subscriptions()).isEmpty();
  }

  /** Right after subscribe: within the source's search cache window, so a cached search would find none. */
  @Test
  void unsubscribeRightAfterSubscribe_removesAllTheRelaysOwn_andNothingElse() throws Exception {
    Subscription foreign = new Subscription();
    foreign.setStatus(Subscription.SubscriptionStatus.ACTIVE);
    foreign.setCriteria("Patient?");
    foreign.setReason("someone else's");
    foreign.getChannel().setType(Subscription.SubscriptionChannelType.RESTHOOK).setEndpoint("http://elsewhere/fhir");
    source.seed(foreign);
    subscribe("--types", "Patient,Condition");

    Run run = run("unsubscribe", "--source-url", source.baseUrl());
    assertThat(run.exitCode()).as(run.out()).isZero();
    assertThat(ours()).isEmpty();
    assertThat(run.out()).contains("Removed 2 Subscription(s).");
    assertThat(source.subscriptions()).singleElement()
        .satisfies(s -> assertThat(s.getReason()).isEqualTo("someone else's"));
  }

  @Test
  void subscribeAndUnsubscribeTwiceWithinAMinute_removeAllEachTime() throws Exception {
    subscribe("--types", "Patient");
    assertThat(run("unsubscribe", "--source-url", source.baseUrl()).exitCode()).isZero();
    subscribe("--types", "Patient,Condition");
    Run again = run("unsubscribe", "--source-url", source.baseUrl());
    assertThat(again.exitCode()).as(again.out()).isZero();
    assertThat(ours()).isEmpty();
    assertThat(again.out()).contains("Removed 2 Subscription(s).");
  }

  @Test
  void subscribe_withADirThatHasNoTemplates_isRefusedNamingTheOption(@TempDir Path empty) throws Exception {
    Run run = run("subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir",
        "--dir", empty.toString(), "--types", "Patient");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out().strip()).doesNotContain("\n").contains("--dir").contains(empty.resolve("rest-hook").toString());
    assertThat(source.subscriptions()).isEmpty();
  }

  @Test
  void subscribe_withoutASecret_isRefused() throws Exception {
    StringWriter out = new StringWriter();
    String[] args = {"subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir"};
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    commandLine.setErr(new PrintWriter(out));
    assertThat(commandLine.execute(args)).isEqualTo(2);
    assertThat(out.toString()).contains("--receiver-secret");
  }
}
