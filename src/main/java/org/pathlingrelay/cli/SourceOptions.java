package org.pathlingrelay.cli;

import org.pathlingrelay.wiring.SourceSettings;
import picocli.CommandLine.Option;

/** How to reach the source FHIR server, and how to download its exports. */
final class SourceOptions extends SourceAccess {

  @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
  int downloadConcurrency;

  /** What a backfill or sync exports with. */
  SourceSettings settings() {
    return new SourceSettings(sourceUrl, tokens(), downloadConcurrency);
  }
}
