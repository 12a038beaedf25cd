package org.pathlingrelay.auth;

/**
 * The token endpoint refused the relay's credentials (wrong secret or key, unknown client, bad
 * scope). Retrying will not help; the message says what the server objected to, never the secret.
 */
public class AuthenticationFailedException extends RuntimeException {

  public AuthenticationFailedException(String message) {
    super(message);
  }
}
