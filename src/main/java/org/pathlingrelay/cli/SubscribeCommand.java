package org.pathlingrelay.cli;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.hl7.fhir.r4.model.Subscription;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.http.Pause;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.source.SourceClients;
import org.pathlingrelay.source.SourceResourceTypes;
import org.pathlingrelay.source.SubscriptionRegistrar.Outcome;
import org.pathlingrelay.source.SubscriptionRegistrar;
import org.pathlingrelay.source.SubscriptionTemplates;
import org.pathlingrelay.wiring.Parts;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code pathling-relay subscribe}: register the relay's rest-hook Subscriptions on the source. */
@Command(
    name = "subscribe",
    mixinStandardHelpOptions = true,
    description = "Create or update the relay's Subscriptions on the source and wait until they are active.")
final class SubscribeCommand implements Callable<Integer> {

  /** Never subscribed by --all: a Subscription on Subscription changes would report the relay's own. */
  private static final String SELF = "Subscription";

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin SourceOptions source;
  @Mixin PathlingOptions pathling;

  @Option(names = "--relay-url", required = true, description = "The relay's FHIR endpoint as the source sees it, e.g. http://relay:8080/fhir. Env RELAY_URL.")
  String relayUrl;

  @Option(names = "--receiver-secret", split = ",", description = "The secret the source must send (the first one is used). Env RELAY_SECRET.")
  List<String> receiverSecrets;

  @ArgGroup(exclusive = true)
  Selection selection;

  static final class Selection {
    @Option(names = "--type", split = ",", description = "Subscribe these types (default: --all).")
    List<String> types;

    /** The old spelling, kept working but out of the help: one spelling per idea. */
    @Option(names = "--types", split = ",", hidden = true)
    void typesAlias(List<String> types) {
      this.types = types;
    }

    @Option(names = "--all", description = "Subscribe every type the source serves, as a backfill exports them (the default).")
    boolean all;
  }

  @Option(names = "--dir", defaultValue = "subscriptions", description = "Folder of templates (default: ${DEFAULT-VALUE}, else the copy in the jar).")
  Path dir;

  @Option(names = "--dry-run", description = "Print what would change, change nothing.")
  boolean dryRun;

  @Option(names = "--backfill", description = "Run a backfill once the Subscriptions are active.")
  boolean backfill;

  @Option(names = "--activation-timeout", defaultValue = "60s", description = "How long to wait for the source to activate them. Default: ${DEFAULT-VALUE}")
  Duration activationTimeout;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    String secret = receiverSecrets == null ? null
        : receiverSecrets.stream().map(String::trim).filter(s -> !s.isEmpty()).findFirst().orElse(null);
    if (secret == null) {
      throw new ParameterException(spec.commandLine(),
          "subscribe needs --receiver-secret (or RELAY_SECRET): the source must send it to the relay");
    }
    FhirContext fhirContext = Parts.newFhirContext();
    if (spec.commandLine().getParseResult().hasMatchedOption("--dir") && !Files.isDirectory(dir.resolve("rest-hook"))) {
      throw new OperatorMistake("no templates in " + dir.resolve("rest-hook") + " (--dir): give the folder that holds rest-hook/",
          CommandLine.ExitCode.USAGE);
    }
    SubscriptionTemplates templates = SubscriptionTemplates.load(dir);
    IGenericClient client = SourceClients.fhirClient(fhirContext, source.sourceUrl, source.tokens());
    boolean everything = selection == null || selection.types == null;
    List<String> types = everything ? everyServedType(fhirContext, client, templates, out) : selection.types;
    List<Subscription> wanted = new ArrayList<>();
    for (String type : types) {
      if (!fhirContext.getResourceTypes().contains(type)) {
        throw new ParameterException(spec.commandLine(), "'" + type + "' is not an R4 resource type");
      }
      wanted.add(templates.fill(fhirContext, type, relayUrl, secret));
    }
    SubscriptionRegistrar registrar = new SubscriptionRegistrar(client, Pause.SLEEP, activationTimeout);
    List<Outcome> outcomes = registrar.subscribe(wanted, dryRun);
    print(out, outcomes);
    long failed = outcomes.stream().filter(Outcome::failed).count();
    if (failed > 0) {
      out.printf("%d Subscription(s) did not become active; see the reasons above.%n", failed);
      out.flush();
      return 1;
    }
    if (dryRun) {
      out.println("Dry run: nothing was changed.");
    } else if (backfill) {
      out.println("Subscriptions are active; backfilling what existed before them.");
      out.flush();
      return BackfillRunner.run(common.dataDir, source.settings(), pathling.forwarding(),
          // --all exports what a plain backfill does: everything, not just the types subscribed.
          watermark -> new BackfillPlan(ExportRequest.system(everything ? List.of() : types, Optional.empty()), LoadMode.RELAY,
              source.downloadConcurrency, false),
          out);
    } else {
      out.println("Subscriptions are active. Changes made before now are never delivered by them: run");
      out.println("  " + CommandHint.ofThisProcess().command(List.of("backfill"), "--source-url", source.sourceUrl,
          "--pathling-url", pathling.pathlingUrl, "--data-dir", common.dataDir.toString()));
      out.println("(or subscribe again with --backfill)");
    }
    out.flush();
    return 0;
  }

  /**
   * What {@code --all} covers: every type the source serves (its CapabilityStatement), since a
   * backfill exports them all; a type without a file of its own gets {@code _template.json}. Without
   * a CapabilityStatement, the types that have a template, and a warning naming the gap.
   */
  private static List<String> everyServedType(FhirContext fhirContext, IGenericClient client, SubscriptionTemplates templates,
      PrintWriter out) {
    List<String> served;
    try {
      served = SourceResourceTypes.served(client);
    } catch (BaseServerResponseException | DataFormatException e) {
      served = List.of();
      out.printf("warning: cannot read the source's CapabilityStatement (%s)%n", e.getMessage());
    }
    if (served.isEmpty()) {
      out.printf("warning: subscribing only the %d types that have a template; any other type a backfill loads changes"
          + " in Pathling only at the next catch-up (sync). Name them with --types.%n", templates.types().size());
      out.flush();
      return templates.types();
    }
    List<String> types = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    for (String type : served) {
      if (type.equals(SELF)) {
        skipped.add(type + " (the relay's own Subscriptions would notify it about themselves)");
      } else if (!fhirContext.getResourceTypes().contains(type)) {
        skipped.add(type + " (not an R4 resource type)");
      } else {
        types.add(type);
      }
    }
    long own = types.stream().filter(templates::hasOwn).count();
    out.printf("Subscribing the %d resource types the source serves (what a backfill exports): %d with a template of"
        + " their own, %d with _template.json.%n", types.size(), own, types.size() - own);
    if (!skipped.isEmpty()) {
      out.println("Not subscribed: " + String.join(", ", skipped) + ".");
    }
    List<String> notServed = templates.types().stream().filter(t -> !types.contains(t) && !t.equals(SELF)).toList();
    if (!notServed.isEmpty()) {
      out.println("Templates for types the source does not serve, skipped: " + String.join(", ", notServed) + ".");
    }
    out.flush();
    return types;
  }

  static void print(PrintWriter out, List<Outcome> outcomes) {
    out.printf("%-40s %-14s %-10s %s%n", "CRITERIA", "ACTION", "STATUS", "ID");
    for (Outcome outcome : outcomes) {
      out.printf("%-40s %-14s %-10s %s%n", outcome.criteria(), outcome.action().name().toLowerCase().replace('_', ' '),
          outcome.status(), outcome.id());
      outcome.error().ifPresent(error -> out.println("    error: " + error));
    }
    out.flush();
  }
}
