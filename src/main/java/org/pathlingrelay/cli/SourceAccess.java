package org.pathlingrelay.cli;

import java.time.Clock;
import org.pathlingrelay.auth.AccessTokens;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** How to reach the source FHIR server: its URL and credentials. */
class SourceAccess implements HelpSection {

  @Option(names = "--source-url", required = true, description = "The source's FHIR base URL. Env SOURCE_URL.")
  String sourceUrl;

  @Mixin SourceAuthOptions auth;

  @Override
  public String heading() {
    return "Source";
  }

  AccessTokens tokens() {
    return auth.options().tokens(sourceUrl, Clock.systemUTC());
  }
}
