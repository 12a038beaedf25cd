package org.pathlingrelay.wiring;

import java.util.List;
import java.util.Optional;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.hosting.TlsSettings;

/**
 * Where and how the relay takes notifications: the listening address, who may send (the bearer
 * secrets, or none with {@code noAuth}), how large a body may be, the HTTP limits, and TLS if the
 * receiver serves HTTPS (optionally requiring client certificates).
 */
public record ReceiverSettings(
    String bind,
    int port,
    List<String> secrets,
    boolean noAuth,
    long maxBodyBytes,
    HttpLimits httpLimits,
    Optional<TlsSettings> tls) {

  public ReceiverSettings {
    secrets = List.copyOf(secrets);
  }

  /** Plain HTTP, with the default HTTP limits. */
  public ReceiverSettings(String bind, int port, List<String> secrets, boolean noAuth, long maxBodyBytes) {
    this(bind, port, secrets, noAuth, maxBodyBytes, HttpLimits.DEFAULTS, Optional.empty());
  }

  /** Counts the secrets, never prints them. */
  @Override
  public String toString() {
    return "ReceiverSettings[bind=" + bind + ", port=" + port + ", secrets=" + secrets.size() + " configured, noAuth="
        + noAuth + ", maxBodyBytes=" + maxBodyBytes + ", httpLimits=" + httpLimits + ", tls=" + tls.isPresent() + "]";
  }
}
