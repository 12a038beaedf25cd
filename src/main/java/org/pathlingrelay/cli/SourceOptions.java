package org.pathlingrelay.cli;

import java.util.Optional;
import picocli.CommandLine.Option;

/** How to reach the source FHIR server. */
final class SourceOptions {

  @Option(names = "--source-url", required = true, description = "The source's FHIR base URL. Env SOURCE_URL.")
  String sourceUrl;

  @Option(names = "--source-token", description = "Static bearer token for the source. Env SOURCE_TOKEN.")
  String sourceToken;

  @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
  int downloadConcurrency;

  Optional<String> token() {
    return Optional.ofNullable(sourceToken).filter(token -> !token.isBlank());
  }
}
