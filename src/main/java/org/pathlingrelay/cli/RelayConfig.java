package org.pathlingrelay.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.datadir.DataDirFiles;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.wiring.ForwardingSettings;

/**
 * Everything {@code serve} needs, validated once at start-up. Secrets are held here but never
 * printed: {@link #toString()} leaves them out.
 */
public record RelayConfig(
    String bind,
    int port,
    Path dataDir,
    String pathlingUrl,
    Optional<String> pathlingToken,
    Duration pathlingTimeout,
    List<String> receiverSecrets,
    boolean noAuth,
    ForwardMode forwardMode,
    int batchMax,
    Duration linger,
    long maxBodyBytes,
    int parallelTypes,
    ResilienceSettings resilience,
    HttpLimits httpLimits) {

  /** With the default HTTP limits. */
  public RelayConfig(
      String bind, int port, Path dataDir, String pathlingUrl, Optional<String> pathlingToken,
      Duration pathlingTimeout, List<String> receiverSecrets, boolean noAuth, ForwardMode forwardMode,
      int batchMax, Duration linger, long maxBodyBytes, int parallelTypes, ResilienceSettings resilience) {
    this(bind, port, dataDir, pathlingUrl, pathlingToken, pathlingTimeout, receiverSecrets, noAuth,
        forwardMode, batchMax, linger, maxBodyBytes, parallelTypes, resilience, HttpLimits.DEFAULTS);
  }

  public RelayConfig {
    receiverSecrets = List.copyOf(receiverSecrets);
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("--port must be between 0 and 65535");
    }
    if (!noAuth && receiverSecrets.isEmpty()) {
      throw new IllegalArgumentException(
          "serve needs --receiver-secret (or RELAY_SECRET) so that only your FHIR server can"
              + " send notifications; pass --no-auth to run without one (not for production)");
    }
    if (batchMax < 1) {
      throw new IllegalArgumentException("--batch-max must be at least 1");
    }
    if (maxBodyBytes < 1) {
      throw new IllegalArgumentException("--max-body must be positive");
    }
    if (linger.isNegative()) {
      throw new IllegalArgumentException("--linger must not be negative");
    }
    if (pathlingTimeout.isNegative() || pathlingTimeout.isZero()
        || pathlingTimeout.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("--pathling-timeout must be positive (and under 24 days)");
    }
    if (!pathlingUrl.startsWith("http://") && !pathlingUrl.startsWith("https://")) {
      throw new IllegalArgumentException("--pathling-url must be an http(s) URL");
    }
  }

  /** What the forwarder needs, with how to authenticate to Pathling (a static token or OAuth2). */
  public ForwardingSettings forwarding(AccessTokens pathlingTokens) {
    return new ForwardingSettings(
        pathlingUrl, pathlingTokens, pathlingTimeout, forwardMode, batchMax, linger, parallelTypes, resilience);
  }

  public Path outboxFile() {
    return DataDirFiles.outbox(dataDir);
  }

  @Override
  public String toString() {
    return "RelayConfig[bind=" + bind + ", port=" + port + ", dataDir=" + dataDir
        + ", pathlingUrl=" + pathlingUrl + ", pathlingToken=" + (pathlingToken.isPresent() ? "***" : "none")
        + ", receiverSecrets=" + receiverSecrets.size() + " configured, noAuth=" + noAuth
        + ", forwardMode=" + forwardMode + ", batchMax=" + batchMax + ", linger=" + linger
        + ", maxBodyBytes=" + maxBodyBytes + ", parallelTypes=" + parallelTypes + ", httpLimits=" + httpLimits + "]";
  }
}
