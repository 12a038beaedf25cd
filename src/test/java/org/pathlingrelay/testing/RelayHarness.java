package org.pathlingrelay.testing;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.pathling.ResilienceSettings;

/** Starts a real relay (Jetty, SQLite file, forwarder) on a free port for a test. */
public final class RelayHarness {

  public static final String SECRET = "example-relay-secret";
  /** Short waits, so outage tests finish in seconds. */
  public static final ResilienceSettings FAST_RETRIES =
      new ResilienceSettings(
          3, Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofMillis(500), 10);

  private RelayHarness() {}

  public static RelayConfig config(Path dataDir, String pathlingUrl, ForwardMode mode) {
    return new RelayConfig(
        "127.0.0.1",
        0,
        dataDir,
        pathlingUrl,
        Optional.empty(),
        Duration.ofSeconds(30),
        List.of(SECRET),
        false,
        mode,
        5_000,
        Duration.ofMillis(50),
        16L * 1024 * 1024,
        4,
        FAST_RETRIES);
  }

  public static Relay start(RelayConfig config) throws Exception {
    return Relay.start(config, Clock.systemUTC());
  }

  public static String fhirBase(Relay relay) {
    return "http://127.0.0.1:" + relay.port() + "/fhir";
  }
}
