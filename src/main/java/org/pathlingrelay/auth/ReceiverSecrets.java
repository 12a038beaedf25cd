package org.pathlingrelay.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * The bearer secrets a sender may present; more than one so that a secret can be rotated without
 * downtime. Only digests are kept, and every check compares against all of them in constant time.
 */
public final class ReceiverSecrets {

  private final List<byte[]> digests;

  private ReceiverSecrets(List<byte[]> digests) {
    this.digests = digests;
  }

  public static ReceiverSecrets of(List<String> secrets) {
    if (secrets.isEmpty() || secrets.stream().anyMatch(s -> s == null || s.isBlank())) {
      throw new IllegalArgumentException("receiver secrets must not be empty");
    }
    return new ReceiverSecrets(secrets.stream().map(ReceiverSecrets::digest).toList());
  }

  public boolean matches(String presented) {
    if (presented == null) {
      return false;
    }
    byte[] candidate = digest(presented);
    boolean match = false;
    for (byte[] digest : digests) {
      // No early exit: the time taken must not tell which secret, or how much of one, matched.
      match |= MessageDigest.isEqual(digest, candidate);
    }
    return match;
  }

  private static byte[] digest(String secret) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  @Override
  public String toString() {
    return "ReceiverSecrets[" + digests.size() + " configured]";
  }
}
