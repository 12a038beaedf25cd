package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Annotation;
import org.hl7.fhir.r4.model.Appointment;
import org.hl7.fhir.r4.model.BodyStructure;
import org.hl7.fhir.r4.model.Device;
import org.hl7.fhir.r4.model.Location;
import org.hl7.fhir.r4.model.Medication;
import org.hl7.fhir.r4.model.Organization;
import org.hl7.fhir.r4.model.Practitioner;
import org.hl7.fhir.r4.model.ResearchStudy;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.Specimen;
import org.hl7.fhir.r4.model.Subscription;
import org.hl7.fhir.r4.model.Substance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.testing.RelayHarness;
import picocli.CommandLine;

/**
 * {@code verify} between a real HAPI JPA 8.8.0 (the source) and the fake Pathling, with
 * differences planted on purpose: it finds exactly those, and {@code --repair} mends them through
 * the outbox. HAPI is shared by the whole test run, so each test uses types no other test writes.
 */
class VerifyCommandTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dataDir;
  private final String run = UUID.randomUUID().toString().substring(0, 8);

  @Test
  void plantedDifferences_inSeveralTypes_areFoundExactly_andNothingElse() throws Exception {
    // Organization: one of each difference, beside one that matches.
    Organization same = write(new Organization().setName("same"), "org-same");
    Organization doubled = write(new Organization().setName("doubled"), "org-doubled");
    Organization stale = write(new Organization().setName("v1"), "org-stale");
    write(new Organization().setName("missing"), "org-missing");
    pathling.seed(same, doubled, doubled, stale, new Organization().setName("gone").setId(id("org-extra")));
    write(new Organization().setName("v2"), "org-stale"); // HAPI moves on to version 2
    // Practitioner: nothing of it in Pathling. Location: nothing of it in the source.
    write(new Practitioner().setActive(true), "pr-1");
    write(new Practitioner().setActive(true), "pr-2");
    pathling.seed(new Location().setName("nowhere").setId(id("loc-1")));
    // Device: both sides equal, at version 2.
    write(new Device().setLotNumber("a"), "dev-1");
    pathling.seed(write(new Device().setLotNumber("b"), "dev-1"));

    Run check = run("verify", "--types", "Organization,Practitioner,Location,Device", "--json", "--page-size", "2");

    assertThat(check.exitCode()).as(check.out()).isEqualTo(VerifyRunner.DIFFERENT);
    Map<String, JsonNode> types = byType(JSON.readTree(check.out()));
    assertThat(types.keySet()).containsExactlyInAnyOrder("Organization", "Practitioner", "Location", "Device");
    assertCounts(types.get("Organization"), 4, 5, 1, 1, 1, 1);
    assertThat(examples(types.get("Organization"), "missing")).containsExactly(id("org-missing"));
    assertThat(examples(types.get("Organization"), "stale")).containsExactly(id("org-stale"));
    assertThat(examples(types.get("Organization"), "extra")).containsExactly(id("org-extra"));
    assertThat(examples(types.get("Organization"), "duplicated")).containsExactly(id("org-doubled"));
    assertCounts(types.get("Practitioner"), 2, 0, 2, 0, 0, 0);
    assertThat(examples(types.get("Practitioner"), "missing")).containsExactly(id("pr-1"), id("pr-2"));
    assertCounts(types.get("Location"), 0, 1, 0, 0, 1, 0);
    assertThat(examples(types.get("Location"), "extra")).containsExactly(id("loc-1"));
    assertCounts(types.get("Device"), 1, 1, 0, 0, 0, 0);
    assertThat(pathling.writes()).as("a check writes nothing").isEmpty();

    Run table = run("verify", "--types", "Organization,Device");
    assertThat(table.exitCode()).isEqualTo(VerifyRunner.DIFFERENT);
    assertThat(table.out())
        .containsPattern("Organization\\s+4\\s+5\\s+1\\s+1\\s+1\\s+1")
        .containsPattern("Device\\s+1\\s+1\\s+0\\s+0\\s+0\\s+0")
        .contains("Organization duplicated: " + id("org-doubled"))
        .contains("Delete each one in Pathling")
        .contains("Pathling differs from the source.");
  }

  @Test
  void withoutTypes_everyTypeTheSourceServesThatEitherSideHolds_isChecked() throws Exception {
    write(new Medication().setStatus(Medication.MedicationStatus.ACTIVE), "med-1"); // the source only
    pathling.seed(new BodyStructure().setActive(true).setId(id("body-1"))); // Pathling only
    Subscription own = new Subscription().setStatus(Subscription.SubscriptionStatus.OFF).setCriteria("Patient?")
        .setReason("the relay's own");
    own.getChannel().setType(Subscription.SubscriptionChannelType.RESTHOOK).setEndpoint("http://127.0.0.1:9/fhir");
    write(own, "sub-own");

    Run check = run("verify", "--json");

    assertThat(check.exitCode()).as(check.out()).isEqualTo(VerifyRunner.DIFFERENT);
    Map<String, JsonNode> types = byType(JSON.readTree(check.out()));
    assertCounts(types.get("Medication"), 1, 0, 1, 0, 0, 0);
    assertCounts(types.get("BodyStructure"), 0, 1, 0, 0, 1, 0);
    assertThat(types).as("no side holds any").doesNotContainKey("ImmunizationRecommendation");
    assertThat(types).as("the relay's own, never relayed").doesNotContainKey("Subscription");
    assertThat(types.values()).allSatisfy(type ->
        assertThat(type.get("source").asLong() + type.get("pathling").asLong()).isPositive());
  }

  @Test
  void repair_mendsThroughTheOutbox_andDuplicatesOnceTheUserDeletedThem() throws Exception {
    Substance kept = write(new Substance().setDescription("kept"), "sub-kept");
    Substance older = write(new Substance().setDescription("v1"), "sub-stale");
    Substance doubled = write(new Substance().setDescription("doubled"), "sub-doubled");
    write(new Substance().setDescription("missing"), "sub-missing");
    pathling.seed(kept, older, doubled, doubled, new Substance().setDescription("gone").setId(id("sub-extra")));
    Substance newer = write(new Substance().setDescription("v2"), "sub-stale");
    String[] check = {"verify", "--types", "Substance", "--json", "--linger", "10ms", "--data-dir", dataDir.toString()};

    Run repair = run(with(check, "--repair"));

    assertThat(repair.exitCode()).as(repair.out()).isEqualTo(VerifyRunner.DIFFERENT);
    JsonNode report = JSON.readTree(repair.out());
    assertThat(report.at("/repair/upserts").asLong()).isEqualTo(2);
    assertThat(report.at("/repair/deletes").asLong()).isEqualTo(1);
    JsonNode after = byType(report.at("/repair/after")).get("Substance");
    assertCounts(after, 4, 5, 0, 0, 0, 1);
    assertThat(pathling.current("Substance", id("sub-missing"))).isPresent();
    assertThat(pathling.current("Substance", id("sub-stale")).orElseThrow().getMeta().getVersionId())
        .isEqualTo(newer.getMeta().getVersionId());
    assertThat(pathling.ids("Substance")).doesNotContain(id("sub-extra"));

    // What the report tells a user to do about the duplicate: delete it in Pathling, repair again.
    pathling.newClient().delete().resourceById("Substance", id("sub-doubled")).execute();
    Run again = run(with(check, "--repair"));
    assertThat(again.exitCode()).as(again.out()).isZero();
    Run last = run(check);
    assertThat(last.exitCode()).as(last.out()).isZero();
    assertThat(pathling.rowCount("Substance", id("sub-doubled"))).isEqualTo(1);
  }

  @Test
  void writesToHapiWhileNoRelayListened_areFound_andRepairMendsThem() throws Exception {
    ScheduledExecutorService maintenance = Executors.newSingleThreadScheduledExecutor();
    // HAPI moves an export on one step per maintenance pass, once a minute by itself.
    maintenance.scheduleWithFixedDelay(hapi::runMaintenancePass, 0, 250, TimeUnit.MILLISECONDS);
    try {
      for (int n = 0; n < 4; n++) {
        write(new Specimen().setNote(List.of(new Annotation().setText("v1"))), "spec-" + n);
      }
      Run backfill = run("backfill", "--type", "Specimen", "--linger", "10ms");
      assertThat(backfill.exitCode()).as(backfill.out()).isZero();
      Run inStep = run("verify", "--type", "Specimen");
      assertThat(inStep.exitCode()).as(inStep.out()).isZero();
    } finally {
      maintenance.shutdownNow();
    }

    // The relay is stopped: nothing hears of these.
    write(new Specimen().setNote(List.of(new Annotation().setText("v2"))), "spec-1");
    hapi.client().delete().resourceById("Specimen", id("spec-2")).execute();
    write(new Specimen().setNote(List.of(new Annotation().setText("v1"))), "spec-4");

    Run check = run("verify", "--type", "Specimen", "--json");
    assertThat(check.exitCode()).as(check.out()).isEqualTo(VerifyRunner.DIFFERENT);
    JsonNode specimen = byType(JSON.readTree(check.out())).get("Specimen");
    assertCounts(specimen, 4, 4, 1, 1, 1, 0);
    assertThat(examples(specimen, "missing")).containsExactly(id("spec-4"));
    assertThat(examples(specimen, "stale")).containsExactly(id("spec-1"));
    assertThat(examples(specimen, "extra")).containsExactly(id("spec-2"));

    Run repair = run("verify", "--type", "Specimen", "--repair", "--linger", "10ms");
    assertThat(repair.exitCode()).as(repair.out()).isZero();
    Run after = run("verify", "--type", "Specimen");
    assertThat(after.exitCode()).as(after.out()).isZero();
    assertThat(after.out()).containsPattern("Specimen\\s+4\\s+4\\s+0\\s+0\\s+0\\s+0")
        .contains("Pathling holds what the source holds.");
  }

  @Test
  void sourceListingExport_findsExactlyThePlantedDifferences_andSaysItListedByExport() throws Exception {
    ResearchStudy same = write(new ResearchStudy().setStatus(ResearchStudy.ResearchStudyStatus.ACTIVE), "rs-same");
    ResearchStudy older = write(new ResearchStudy().setStatus(ResearchStudy.ResearchStudyStatus.ACTIVE), "rs-stale");
    write(new ResearchStudy().setStatus(ResearchStudy.ResearchStudyStatus.ACTIVE), "rs-missing");
    pathling.seed(same, older,
        new ResearchStudy().setStatus(ResearchStudy.ResearchStudyStatus.COMPLETED).setId(id("rs-extra")));
    write(new ResearchStudy().setStatus(ResearchStudy.ResearchStudyStatus.COMPLETED), "rs-stale"); // version 2
    ScheduledExecutorService maintenance = Executors.newSingleThreadScheduledExecutor();
    // HAPI moves an export on one step per maintenance pass, once a minute by itself.
    maintenance.scheduleWithFixedDelay(hapi::runMaintenancePass, 0, 250, TimeUnit.MILLISECONDS);
    Run check;
    Run auto;
    try {
      check = run("verify", "--type", "ResearchStudy", "--source-listing", "export", "--json");
      // HAPI's CapabilityStatement lists $export, and 3 is above the threshold.
      auto = run("verify", "--type", "ResearchStudy", "--export-listing-above", "2", "--json");
    } finally {
      maintenance.shutdownNow();
    }

    assertThat(check.exitCode()).as(check.out()).isEqualTo(VerifyRunner.DIFFERENT);
    JsonNode study = byType(JSON.readTree(check.out())).get("ResearchStudy");
    assertThat(study.get("listing").asText()).isEqualTo("export");
    assertCounts(study, 3, 3, 1, 1, 1, 0);
    assertThat(examples(study, "missing")).containsExactly(id("rs-missing"));
    assertThat(examples(study, "stale")).containsExactly(id("rs-stale"));
    assertThat(examples(study, "extra")).containsExactly(id("rs-extra"));

    assertThat(byType(JSON.readTree(auto.out())).get("ResearchStudy").get("listing").asText()).isEqualTo("export");
    Run searched = run("verify", "--type", "ResearchStudy", "--source-listing", "search");
    assertThat(searched.out()).containsPattern("ResearchStudy\\s+3\\s+3\\s+1\\s+1\\s+1\\s+0\\s+search");
  }

  @Test
  void repair_whileServeForwardsFromTheDataDir_onlyQueues_andServeDelivers() throws Exception {
    Appointment booked = write(new Appointment().setStatus(Appointment.AppointmentStatus.BOOKED), "appt-1");

    try (Relay serve = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH))) {
      Run repair = run("verify", "--type", "Appointment", "--repair", "--json");

      assertThat(repair.exitCode()).as(repair.out()).isZero();
      assertThat(JSON.readTree(repair.out()).at("/repair/upserts").asLong()).isEqualTo(1);
      assertThat(pathling.current("Appointment", id("appt-1")).orElseThrow().getMeta().getVersionId())
          .isEqualTo(booked.getMeta().getVersionId());
    }
  }

  @Test
  void aPathlingThatCannotBeReached_isOneLineNamingIt_notTheSource() throws Exception {
    Run run = execute("verify", "--type", "Patient", "--source-url", hapi.baseUrl(),
        "--pathling-url", "http://127.0.0.1:9/fhir", "--data-dir", dataDir.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.SOFTWARE);
    assertThat(run.out()).contains("cannot reach Pathling at http://127.0.0.1:9/fhir")
        .contains("--pathling-url").doesNotContain("source").doesNotContain("\tat ");
  }

  private static String[] with(String[] args, String... more) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of(more));
    return all.toArray(String[]::new);
  }

  private String id(String label) {
    return run + "-" + label;
  }

  /** PUTs the resource to HAPI under the run's id; answers HAPI's copy (meta included). */
  @SuppressWarnings("unchecked")
  private <T extends Resource> T write(T resource, String label) {
    resource.setId(id(label));
    IGenericClient client = hapi.client();
    client.update().resource(resource).execute();
    IBaseResource stored = client.read().resource(resource.fhirType()).withId(id(label)).execute();
    return (T) stored;
  }

  private static void assertCounts(
      JsonNode type, long source, long pathlingCount, long missing, long stale, long extra, long duplicated) {
    assertThat(List.of(type.get("source").asLong(), type.get("pathling").asLong(), type.get("missing").asLong(),
            type.get("stale").asLong(), type.get("extra").asLong(), type.get("duplicated").asLong()))
        .as(type.toString())
        .containsExactly(source, pathlingCount, missing, stale, extra, duplicated);
  }

  private static List<String> examples(JsonNode type, String kind) {
    List<String> ids = new ArrayList<>();
    type.path("examples").path(kind).forEach(id -> ids.add(id.asText()));
    return ids;
  }

  private static Map<String, JsonNode> byType(JsonNode reportOrTypes) {
    JsonNode types = reportOrTypes.isArray() ? reportOrTypes : reportOrTypes.get("types");
    Map<String, JsonNode> byType = new TreeMap<>();
    types.forEach(type -> byType.put(type.get("type").asText(), type));
    return byType;
  }

  private record Run(int exitCode, String out) {}

  private Run run(String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--source-url", hapi.baseUrl(), "--pathling-url", pathling.baseUrl()));
    if (!all.contains("--data-dir")) {
      all.addAll(List.of("--data-dir", dataDir.toString()));
    }
    return execute(all.toArray(String[]::new));
  }

  private static Run execute(String... argv) throws IOException {
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(argv, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    return new Run(commandLine.execute(argv), out.toString());
  }
}
