package org.pathlingrelay.cli;

import java.nio.file.Path;
import java.util.Optional;
import org.pathlingrelay.auth.ClientAuthentication;
import picocli.CommandLine.Option;

/** OAuth2 / SMART Backend Services credentials for Pathling (names follow Pathling's pnp settings). */
final class PathlingAuthOptions implements HelpSection {

  @Override
  public String heading() {
    return "Pathling authentication (OAuth2 / SMART Backend Services)";
  }

  @Option(names = "--pathling-client-id", description = "OAuth2 client id for Pathling. Env PATHLING_CLIENT_ID.")
  String clientId;

  @Option(names = "--pathling-client-secret", description = "Client secret for Pathling. Env PATHLING_CLIENT_SECRET.")
  String clientSecret;

  @Option(names = "--pathling-client-secret-file", description = "File holding the client secret. Env PATHLING_CLIENT_SECRET_FILE.")
  Path clientSecretFile;

  @Option(names = "--pathling-private-key-jwk", description = "Private key (JWK JSON) for private_key_jwt. Env PATHLING_PRIVATE_KEY_JWK.")
  String privateKeyJwk;

  @Option(names = "--pathling-private-key-jwk-file", description = "File holding the private key: a JWK, or a PKCS#8 PEM with --pathling-key-id. Env PATHLING_PRIVATE_KEY_JWK_FILE.")
  Path privateKeyJwkFile;

  @Option(names = "--pathling-key-id", description = "kid of a PEM key. Env PATHLING_KEY_ID.")
  String keyId;

  @Option(names = "--pathling-token-endpoint", description = "Token URL (default: from Pathling's .well-known/smart-configuration). Env PATHLING_TOKEN_ENDPOINT.")
  String tokenEndpoint;

  @Option(names = "--pathling-scope", description = "Scopes to request from Pathling's issuer. Env PATHLING_SCOPE.")
  String scope;

  @Option(names = "--pathling-client-auth", defaultValue = "basic", description = "How a client secret is sent: basic or post. Env PATHLING_CLIENT_AUTH. Default: ${DEFAULT-VALUE}")
  ClientAuthentication.SecretMethod secretMethod;

  OAuthOptions options(Optional<String> staticToken) {
    return new OAuthOptions("pathling", staticToken, Optional.ofNullable(clientId), Optional.ofNullable(clientSecret),
        Optional.ofNullable(clientSecretFile), Optional.ofNullable(privateKeyJwk), Optional.ofNullable(privateKeyJwkFile),
        Optional.ofNullable(keyId), Optional.ofNullable(tokenEndpoint), Optional.ofNullable(scope), secretMethod);
  }
}
