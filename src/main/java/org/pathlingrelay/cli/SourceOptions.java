package org.pathlingrelay.cli;

import picocli.CommandLine.Option;

/** How to reach the source FHIR server. */
final class SourceOptions {

  @Option(names = "--source-url", required = true, description = "The source's FHIR base URL. Env SOURCE_URL.")
  String sourceUrl;

  @picocli.CommandLine.Mixin SourceAuthOptions auth;

  @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
  int downloadConcurrency;

  org.pathlingrelay.auth.AccessTokens tokens() {
    return auth.options().tokens(sourceUrl, java.time.Clock.systemUTC());
  }
}
