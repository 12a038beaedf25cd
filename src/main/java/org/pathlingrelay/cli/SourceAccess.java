package org.pathlingrelay.cli;

import picocli.CommandLine.Option;

/** How to reach the source FHIR server: its URL and credentials. */
class SourceAccess implements HelpSection {

  @Option(names = "--source-url", required = true, description = "The source's FHIR base URL. Env SOURCE_URL.")
  String sourceUrl;

  @picocli.CommandLine.Mixin SourceAuthOptions auth;

  @Override
  public String heading() {
    return "Source";
  }

  org.pathlingrelay.auth.AccessTokens tokens() {
    return auth.options().tokens(sourceUrl, java.time.Clock.systemUTC());
  }
}
