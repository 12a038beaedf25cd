package org.pathlingrelay.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.forward.Linger;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.ReceiverSettings;

/** Starts the real relay in this process, as {@code serve} would, on a free loopback port. */
final class BenchRelay {

  static final String SECRET = "bench-secret";

  private final BenchSettings.RelayUnderTest settings;

  BenchRelay(BenchSettings.RelayUnderTest settings) {
    this.settings = settings;
  }

  Relay start(Path dataDir, String pathlingUrl, ForwardMode mode) throws Exception {
    RelayConfig config = new RelayConfig(
        new ReceiverSettings("127.0.0.1", 0, List.of(SECRET), false, 16L * 1024 * 1024),
        dataDir,
        new ForwardingSettings(pathlingUrl, AccessTokens.NONE, Duration.ofMinutes(5), mode, settings.batchMax(),
            new Linger(settings.linger(), settings.lingerMax()), settings.parallelTypes(), ResilienceSettings.DEFAULTS));
    return Relay.start(config, Clock.systemUTC());
  }

  static String fhirBase(Relay relay) {
    return "http://127.0.0.1:" + relay.port() + "/fhir";
  }

  /** A Pathling URL nobody listens on: forwarding fails fast and backs off. */
  static String unreachablePathling() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return "http://127.0.0.1:" + socket.getLocalPort() + "/fhir";
    }
  }
}
