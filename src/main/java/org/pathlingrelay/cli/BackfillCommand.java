package org.pathlingrelay.cli;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.StagingAreas;
import org.pathlingrelay.source.ExportRequest;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pathling-relay backfill}: load history through the source's bulk export. */
@Command(
    name = "backfill",
    mixinStandardHelpOptions = true,
    description = "Export from the source (FHIR Bulk Data) and load it into Pathling through the outbox.")
final class BackfillCommand implements Callable<Integer> {

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin SourceOptions source;
  @Mixin PathlingOptions pathling;

  @Option(names = "--type", split = ",", description = "Resource types to export (default: all the source offers).")
  List<String> types;

  /** {@code subscribe}'s old spelling, accepted here too: one spelling per idea, both work. */
  @Option(names = "--types", split = ",", hidden = true)
  void typesAlias(List<String> types) {
    this.types = types;
  }

  @Option(names = "--since", description = "Only resources changed since this FHIR instant, e.g. 2025-01-01T00:00:00Z.")
  Instant since;

  @Option(names = "--type-filter", description = "A _typeFilter query, e.g. 'Observation?status=final'; repeatable.")
  List<String> typeFilters;

  @ArgGroup(exclusive = true)
  Scope scope;

  @Mixin LoadOptions loading;

  static final class Scope {
    @Option(names = "--group", description = "Export one Group's patients (Group/[id]/$export).")
    String group;

    @Option(names = "--patient", description = "Export all patients' compartments (Patient/$export).")
    boolean patient;
  }

  @Override
  public Integer call() throws Exception {
    ExportRequest.Level level = ExportRequest.Level.SYSTEM;
    Optional<String> group = Optional.empty();
    if (scope != null && scope.group != null) {
      level = ExportRequest.Level.GROUP;
      group = Optional.of(scope.group);
    } else if (scope != null && scope.patient) {
      level = ExportRequest.Level.PATIENT;
    }
    ExportRequest request =
        new ExportRequest(level, group, ResourceTypeNames.checked(spec, types),
            ResourceTypeNames.checkedSince(spec, since, Clock.systemUTC()),
            typeFilters == null ? List.of() : typeFilters, List.of());
    BackfillPlan plan = loading.plan(spec, request, source.downloadConcurrency, false);
    StagingAreas stagingAreas = loading.stagingAreas();
    Duration stallTimeout = loading.forwardStallTimeout(spec);
    return BackfillRunner.run(common.dataDir, source.settings(), pathling.forwarding(), watermark -> plan, stagingAreas,
        stallTimeout, spec.commandLine().getOut());
  }
}
