package org.pathlingrelay.cli;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.pathlingrelay.backfill.StagingAreas;
import org.pathlingrelay.source.ExportRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pathling-relay sync}: an incremental backfill of what changed since the stored watermark
 * (the transaction time of the last complete run); a full one when there is none yet.
 */
@Command(
    name = "sync",
    mixinStandardHelpOptions = true,
    description = "Export what changed since the last complete backfill or sync, and load it.")
final class SyncCommand implements Callable<Integer> {

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin SourceOptions source;
  @Mixin PathlingOptions pathling;

  @Option(names = "--type", split = ",", description = "Resource types to export (default: all).")
  List<String> types;

  /** {@code subscribe}'s old spelling, accepted here too: one spelling per idea, both work. */
  @Option(names = "--types", split = ",", hidden = true)
  void typesAlias(List<String> types) {
    this.types = types;
  }

  @Mixin LoadOptions loading;

  @Override
  public Integer call() throws Exception {
    List<String> checkedTypes = ResourceTypeNames.checked(spec, types);
    StagingAreas stagingAreas = loading.stagingAreas();
    Duration stallTimeout = loading.forwardStallTimeout(spec);
    return BackfillRunner.run(
        common.dataDir,
        source.settings(),
        pathling.forwarding(),
        watermark -> loading.plan(
            spec, ExportRequest.system(checkedTypes, watermark), source.downloadConcurrency, true),
        stagingAreas,
        stallTimeout,
        spec.commandLine().getOut());
  }
}
