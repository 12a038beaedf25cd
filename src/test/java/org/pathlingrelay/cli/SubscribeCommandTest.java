package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

  @Test
  void subscribe_createsOnePerTemplate_waitsUntilActive_andFillsInEndpointAndSecret() throws Exception {
    source.setActivationReads(2);
    Run run = subscribe();

    assertThat(run.exitCode()).as(run.out()).isZero();
    long templates;
    try (var files = Files.list(TEMPLATES.resolve("rest-hook"))) {
      templates = files.filter(f -> !f.getFileName().toString().startsWith("_")).count();
    }
    assertThat(ours()).hasSize((int) templates);
    assertThat(ours()).allSatisfy(subscription -> {
      assertThat(subscription.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE);
      assertThat(subscription.getChannel().getEndpoint()).isEqualTo("http://relay:8080/fhir");
      assertThat(subscription.getChannel().getHeader()).extracting(h -> h.getValue())
          .containsExactly("Authorization: Bearer " + SECRET);
      assertThat(subscription.getChannel().getExtensionByUrl(
          "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages")).isNotNull();
    });
    assertThat(run.out()).contains("Patient?").contains("active").doesNotContain(SECRET)
        .contains(" backfill --source-url ");
  }

  @Test
  void subscribingTwice_leavesOnePerType_andChangesNothingTheSecondTime() throws Exception {
    assertThat(subscribe("--types", "Patient,Observation").exitCode()).isZero();
    int writes = source.creates() + source.updates();
    Run again = subscribe("--types", "Patient,Observation");
    assertThat(again.exitCode()).as(again.out()).isZero();
    assertThat(ours()).hasSize(2);
    assertThat(source.creates() + source.updates()).isEqualTo(writes);
    assertThat(again.out()).contains("unchanged");
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

  @Test
  void unsubscribe_removesOnlyTheRelaysOwn() throws Exception {
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
    assertThat(source.subscriptions()).singleElement()
        .satisfies(s -> assertThat(s.getReason()).isEqualTo("someone else's"));
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
