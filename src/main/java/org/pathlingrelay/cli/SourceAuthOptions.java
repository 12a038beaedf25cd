package org.pathlingrelay.cli;

import java.nio.file.Path;
import java.util.Optional;
import org.pathlingrelay.auth.ClientAuthentication;
import picocli.CommandLine.Option;

/** OAuth2 / SMART Backend Services credentials for the source server. */
final class SourceAuthOptions implements HelpSection {

  @Override
  public String heading() {
    return "Source authentication (OAuth2 / SMART Backend Services)";
  }

  @Option(names = "--source-client-id", description = "OAuth2 client id for the source. Env SOURCE_CLIENT_ID.")
  String clientId;

  @Option(names = "--source-client-secret", description = "Client secret for the source. Env SOURCE_CLIENT_SECRET.")
  String clientSecret;

  @Option(names = "--source-client-secret-file", description = "File holding the client secret. Env SOURCE_CLIENT_SECRET_FILE.")
  Path clientSecretFile;

  @Option(names = "--source-private-key-jwk", description = "Private key (JWK JSON) for private_key_jwt. Env SOURCE_PRIVATE_KEY_JWK.")
  String privateKeyJwk;

  @Option(names = "--source-private-key-jwk-file", description = "File holding the private key: a JWK, or a PKCS#8 PEM with --source-key-id. Env SOURCE_PRIVATE_KEY_JWK_FILE.")
  Path privateKeyJwkFile;

  @Option(names = "--source-key-id", description = "kid of a PEM key. Env SOURCE_KEY_ID.")
  String keyId;

  @Option(names = "--source-token", description = "Static bearer token for the source. Env SOURCE_TOKEN.")
  String token;

  @Option(names = "--source-token-endpoint", description = "Token URL (default: from the source's .well-known/smart-configuration). Env SOURCE_TOKEN_ENDPOINT.")
  String tokenEndpoint;

  @Option(names = "--source-scope", defaultValue = "system/*.read", description = "Scopes to request from the source's issuer. Env SOURCE_SCOPE. Default: ${DEFAULT-VALUE}")
  String scope;

  @Option(names = "--source-client-auth", defaultValue = "basic", description = "How a client secret is sent: basic or post. Env SOURCE_CLIENT_AUTH. Default: ${DEFAULT-VALUE}")
  ClientAuthentication.SecretMethod secretMethod;

  OAuthOptions options() {
    return new OAuthOptions("source", Optional.ofNullable(token).filter(t -> !t.isBlank()), Optional.ofNullable(clientId), Optional.ofNullable(clientSecret),
        Optional.ofNullable(clientSecretFile), Optional.ofNullable(privateKeyJwk), Optional.ofNullable(privateKeyJwkFile),
        Optional.ofNullable(keyId), Optional.ofNullable(tokenEndpoint), Optional.ofNullable(scope), secretMethod);
  }
}
