package org.pathlingrelay.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.datadir.DataDirFiles;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.ReceiverSettings;
import org.pathlingrelay.wiring.VerifySettings;

/**
 * Everything {@code serve} needs, validated once at start-up: the receiver, the data dir, the
 * forwarding to Pathling and, if a source is given, catch-up from it. Secrets are held here but
 * never printed: {@link #toString()} leaves them out.
 */
public record RelayConfig(
    ReceiverSettings receiver,
    Path dataDir,
    ForwardingSettings forwarding,
    Optional<CatchUpSettings> catchUp,
    Optional<VerifySettings> verify) {

  /** Without a source: no catch-up, and id-only notifications cannot be read. */
  public RelayConfig(ReceiverSettings receiver, Path dataDir, ForwardingSettings forwarding) {
    this(receiver, dataDir, forwarding, Optional.empty());
  }

  /** Without scheduled checks against the source. */
  public RelayConfig(
      ReceiverSettings receiver, Path dataDir, ForwardingSettings forwarding, Optional<CatchUpSettings> catchUp) {
    this(receiver, dataDir, forwarding, catchUp, Optional.empty());
  }

  public RelayConfig {
    if (verify.isPresent() && catchUp.isEmpty()) {
      throw new IllegalArgumentException("--verify-interval and --verify-full-interval need --source-url (or SOURCE_URL)");
    }
    if (receiver.port() < 0 || receiver.port() > 65535) {
      throw new IllegalArgumentException("--port must be between 0 and 65535");
    }
    if (!receiver.noAuth() && receiver.secrets().isEmpty()) {
      throw new IllegalArgumentException(
          "serve needs --receiver-secret (or RELAY_SECRET) so that only your FHIR server can"
              + " send notifications; pass --no-auth to run without one (not for production)");
    }
    if (forwarding.batchMax() < 1) {
      throw new IllegalArgumentException("--batch-max must be at least 1");
    }
    if (receiver.maxBodyBytes() < 1) {
      throw new IllegalArgumentException("--max-body must be positive");
    }
    Duration timeout = forwarding.pathlingTimeout();
    if (timeout.isNegative() || timeout.isZero() || timeout.toMillis() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("--pathling-timeout must be positive (and under 24 days)");
    }
    String url = forwarding.pathlingUrl();
    if (!url.startsWith("http://") && !url.startsWith("https://")) {
      throw new IllegalArgumentException("--pathling-url must be an http(s) URL");
    }
  }

  public Path outboxFile() {
    return DataDirFiles.outbox(dataDir);
  }

  @Override
  public String toString() {
    return "RelayConfig[bind=" + receiver.bind() + ", port=" + receiver.port() + ", dataDir=" + dataDir
        + ", pathlingUrl=" + forwarding.pathlingUrl()
        + ", pathlingToken=" + (forwarding.pathlingTokens() == AccessTokens.NONE ? "none" : "***")
        + ", receiverSecrets=" + receiver.secrets().size() + " configured, noAuth=" + receiver.noAuth()
        + ", forwardMode=" + forwarding.mode() + ", batchMax=" + forwarding.batchMax()
        + ", linger=" + forwarding.linger().quiet() + ", lingerMax=" + forwarding.linger().max() + ", maxBodyBytes=" + receiver.maxBodyBytes()
        + ", parallelTypes=" + forwarding.parallelTypes() + ", httpLimits=" + receiver.httpLimits() + "]";
  }
}
