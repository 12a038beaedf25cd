package org.pathlingrelay.auth;

import java.net.URI;
import java.security.PrivateKey;
import java.util.Optional;

/**
 * How the relay authenticates to one server's token endpoint (OAuth2 client credentials):
 * with a client secret, or with a SMART Backend Services client assertion signed by a private key.
 *
 * @param fhirBaseUrl where {@code .well-known/smart-configuration} is, when no token endpoint is given
 * @param keyId the {@code kid} of the signing key (from the JWK, or {@code --X-key-id} for a PEM key)
 */
public record ClientAuthentication(
    String clientId,
    Optional<String> clientSecret,
    Optional<PrivateKey> privateKey,
    Optional<String> keyId,
    Optional<URI> tokenEndpoint,
    Optional<String> scope,
    SecretMethod secretMethod,
    String fhirBaseUrl) {

  /** How a client secret travels: HTTP Basic (the default) or in the form body. */
  public enum SecretMethod {
    BASIC,
    POST
  }

  public ClientAuthentication {
    if (clientSecret.isPresent() == privateKey.isPresent()) {
      throw new IllegalArgumentException(
          "client " + clientId + " needs exactly one of a client secret or a private key");
    }
  }

  @Override
  public String toString() {
    return "ClientAuthentication[clientId=" + clientId + ", method="
        + (privateKey.isPresent() ? "private_key_jwt" : "client_secret_" + secretMethod.name().toLowerCase())
        + ", tokenEndpoint=" + tokenEndpoint.map(URI::toString).orElse("(discovered)")
        + ", scope=" + scope.orElse("") + "]";
  }
}
