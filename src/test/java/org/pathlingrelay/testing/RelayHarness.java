package org.pathlingrelay.testing;

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

/** Starts a real relay (Jetty, SQLite file, forwarder) on a free port for a test. */
public final class RelayHarness {

  public static final String SECRET = "example-relay-secret";
  /** Short waits, so outage tests finish in seconds. */
  public static final ResilienceSettings FAST_RETRIES =
      new ResilienceSettings(
          3, Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofMillis(500), 10);

  private RelayHarness() {}

  public static RelayConfig config(Path dataDir, String pathlingUrl, ForwardMode mode) {
    return new RelayConfig(receiver(), dataDir, forwarding(pathlingUrl, mode));
  }

  /** Plain HTTP on a free local port, taking {@link #SECRET}, bodies up to 16 MiB. */
  public static ReceiverSettings receiver() {
    return new ReceiverSettings("127.0.0.1", 0, List.of(SECRET), false, 16L * 1024 * 1024);
  }

  /** No authentication to Pathling, a short linger and {@link #FAST_RETRIES}. */
  public static ForwardingSettings forwarding(String pathlingUrl, ForwardMode mode) {
    return new ForwardingSettings(
        pathlingUrl, AccessTokens.NONE, Duration.ofSeconds(30), mode, 5_000, Linger.of(Duration.ofMillis(50)), 4, FAST_RETRIES);
  }

  public static Relay start(RelayConfig config) throws Exception {
    return Relay.start(config, Clock.systemUTC());
  }

  public static String fhirBase(Relay relay) {
    return "http://127.0.0.1:" + relay.port() + "/fhir";
  }
}
