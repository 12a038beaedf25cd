package org.pathlingrelay.e2e;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.cli.Main;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.cli.RelayConfig;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.forward.Linger;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.ReceiverSettings;

/**
 * The packaged relay's {@code main}, in a JVM started ahead of need: it starts and stops a relay of
 * its own once (a scratch data dir, any free port, nothing to forward), so that the classes and
 * code a start needs are loaded and compiled; says so by creating the file named by {@code
 * -Dstandby.ready}; and waits for a line on stdin before it runs {@code main} with its arguments.
 * A restart then takes a warm start, not a cold JVM's, which on a loaded machine can last longer
 * than a source's retries. Touches neither the real data dir nor its port before the line.
 */
public final class StandbyRelay {

  private StandbyRelay() {}

  public static void main(String[] args) throws Exception {
    Path scratch = Files.createTempDirectory("standby-relay");
    try (Relay warm = Relay.start(
        new RelayConfig(
            new ReceiverSettings("127.0.0.1", 0, List.of("standby-secret"), false, 16L * 1024 * 1024),
            scratch,
            new ForwardingSettings("http://127.0.0.1:1/fhir", AccessTokens.NONE, Duration.ofSeconds(5),
                ForwardMode.BATCH, 5_000, Linger.of(Duration.ofMillis(50)), 1, ResilienceSettings.DEFAULTS),
            Optional.empty()),
        Clock.systemUTC())) {
      warm.outbox().stats();
    }
    Files.createFile(Path.of(System.getProperty("standby.ready")));
    new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    Main.main(args);
  }
}
