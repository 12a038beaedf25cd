package org.pathlingrelay.cli;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.ClientAuthentication;
import org.pathlingrelay.auth.Keys;
import org.pathlingrelay.auth.OAuthTokens;

/**
 * Turns one server's auth options (static token, or OAuth2 client credentials with a secret or a
 * SMART Backend Services key) into {@link AccessTokens}. Secrets can come from files, so that they
 * stay out of process listings.
 */
record OAuthOptions(
    String server,
    Optional<String> staticToken,
    Optional<String> clientId,
    Optional<String> clientSecret,
    Optional<Path> clientSecretFile,
    Optional<String> privateKeyJwk,
    Optional<Path> privateKeyJwkFile,
    Optional<String> keyId,
    Optional<String> tokenEndpoint,
    Optional<String> scope,
    ClientAuthentication.SecretMethod secretMethod) {

  AccessTokens tokens(String fhirBaseUrl, Clock clock) {
    if (clientId.isEmpty()) {
      if (clientSecret.isPresent() || clientSecretFile.isPresent() || privateKeyJwk.isPresent() || privateKeyJwkFile.isPresent()) {
        throw new IllegalArgumentException("--" + server + "-client-id is needed with a client secret or key");
      }
      return AccessTokens.fixed(staticToken);
    }
    if (staticToken.isPresent()) {
      throw new IllegalArgumentException("give either --" + server + "-token or --" + server + "-client-id, not both");
    }
    Optional<String> secret = clientSecret.or(() -> clientSecretFile.map(OAuthOptions::read));
    Optional<Keys.SigningKey> key = privateKeyJwk.map(Keys::fromJwk)
        .or(() -> privateKeyJwkFile.map(file -> {
          String text = read(file);
          if (text.trim().startsWith("{")) {
            return Keys.fromJwk(text);
          }
          if (keyId.isEmpty()) {
            // SMART requires a kid in the assertion header, so that the server can pick the key.
            throw new IllegalArgumentException("a PEM key needs --" + server + "-key-id");
          }
          return Keys.fromPem(text, keyId);
        }));
    if (secret.isPresent() == key.isPresent()) {
      throw new IllegalArgumentException("--" + server + "-client-id needs exactly one of --" + server
          + "-client-secret(-file) or --" + server + "-private-key-jwk(-file)");
    }
    ClientAuthentication client = new ClientAuthentication(
        clientId.get(),
        secret,
        key.map(Keys.SigningKey::key),
        keyId.or(() -> key.flatMap(Keys.SigningKey::keyId)),
        tokenEndpoint.map(URI::create),
        scope,
        secretMethod,
        fhirBaseUrl);
    return new OAuthTokens(client, clock, Duration.ofSeconds(1), 5);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }
}
