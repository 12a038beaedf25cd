package org.pathlingrelay.cli;

import picocli.CommandLine.Option;

/** How to reach the source FHIR server, and how to download its exports. */
final class SourceOptions extends SourceAccess {

  @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
  int downloadConcurrency;
}
