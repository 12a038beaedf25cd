package org.pathlingrelay.auth;

import java.util.Optional;

/**
 * Bearer tokens for one outbound server. Callers ask before every request; a token that the
 * server refused (401) is invalidated, and the next call gets a fresh one.
 */
public interface AccessTokens {

  /** The token to send now, if this server needs one. */
  Optional<String> token();

  /** The server refused this token: forget it. Returns true when a new one can be obtained. */
  boolean invalidate(String token);

  /** No authentication. */
  AccessTokens NONE = new AccessTokens() {
    @Override
    public Optional<String> token() {
      return Optional.empty();
    }

    @Override
    public boolean invalidate(String token) {
      return false;
    }
  };

  /** A static token given on the command line: nothing to refresh. */
  static AccessTokens fixed(Optional<String> token) {
    if (token.isEmpty()) {
      return NONE;
    }
    return new AccessTokens() {
      @Override
      public Optional<String> token() {
        return token;
      }

      @Override
      public boolean invalidate(String refused) {
        return false;
      }

      @Override
      public String toString() {
        return "static bearer token";
      }
    };
  }
}
