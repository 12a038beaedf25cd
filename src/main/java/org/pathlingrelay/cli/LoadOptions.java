package org.pathlingrelay.cli;

import java.nio.file.Path;
import java.util.Optional;
import org.pathlingrelay.backfill.BackfillPlan;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.source.ExportRequest;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** How a backfill gets its data into Pathling. */
final class LoadOptions {

  @Option(names = "--load", defaultValue = "relay", description = "relay (through the outbox), import (Pathling's $import of staged files) or pnp (Pathling's $import-pnp). Env RELAY_LOAD. Default: ${DEFAULT-VALUE}")
  LoadMode load;

  @Option(names = "--staging-dir", description = "Where --load import writes NDJSON files. Env RELAY_STAGING_DIR.")
  Path stagingDir;

  @Option(names = "--staging-url", description = "How Pathling sees the staging dir, e.g. file:///usr/share/staging (default: file:// + the staging dir). Env RELAY_STAGING_URL.")
  String stagingUrl;

  @Option(names = "--save-mode", defaultValue = "merge", description = "merge or overwrite (import and pnp). Env RELAY_SAVE_MODE. Default: ${DEFAULT-VALUE}")
  String saveMode;

  BackfillPlan plan(CommandSpec spec, ExportRequest request, int downloadConcurrency, boolean sync) {
    Optional<BackfillPlan.Staging> staging = Optional.empty();
    if (stagingDir != null) {
      String url = stagingUrl != null ? stagingUrl : stagingDir.toAbsolutePath().normalize().toUri().toString();
      staging = Optional.of(new BackfillPlan.Staging(stagingDir, url.endsWith("/") ? url.substring(0, url.length() - 1) : url));
    }
    try {
      return new BackfillPlan(request, load, downloadConcurrency, sync, staging, saveMode.toLowerCase());
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }
}
