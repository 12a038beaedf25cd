package org.pathlingrelay.cli;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import org.pathlingrelay.forward.ResilienceSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code pathling-relay serve}: receive notifications and forward them until stopped. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Receive rest-hook notifications and forward them to Pathling.")
final class ServeCommand implements Callable<Integer> {

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin PathlingOptions pathling;

  @Option(names = "--port", defaultValue = "8080", description = "Port to listen on. Env RELAY_PORT. Default: ${DEFAULT-VALUE}")
  int port;

  @Option(names = "--bind", defaultValue = "0.0.0.0", description = "Address to listen on. Env RELAY_BIND. Default: ${DEFAULT-VALUE}")
  String bind;

  @Option(names = "--receiver-secret", split = ",", description = "Bearer secret(s) the source must send; comma-separate several to rotate. Env RELAY_SECRET.")
  List<String> receiverSecrets;

  @Option(names = "--no-auth", description = "Accept notifications without a secret (testing only). Env RELAY_NO_AUTH.")
  boolean noAuth;

  @Option(names = "--max-body", defaultValue = "16MiB", converter = ByteSizeConverter.class, description = "Largest notification body accepted. Env RELAY_MAX_BODY. Default: ${DEFAULT-VALUE}")
  long maxBody;

  @Option(names = "--source-url", description = "The source's FHIR base URL, for catch-up. Env SOURCE_URL.")
  String sourceUrl;

  @Option(names = "--source-token", description = "Static bearer token for the source. Env SOURCE_TOKEN.")
  String sourceToken;

  @Option(names = "--catch-up-interval", description = "Run sync on this schedule (e.g. PT1H), and after pings. Needs --source-url. Env RELAY_CATCH_UP_INTERVAL.")
  java.time.Duration catchUpInterval;

  @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once during catch-up. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
  int downloadConcurrency;

  @Override
  public Integer call() throws Exception {
    RelayConfig config;
    try {
      config =
          new RelayConfig(
              bind,
              port,
              common.dataDir,
              pathling.baseUrl(),
              pathling.token(),
              pathling.pathlingTimeout,
              receiverSecrets == null ? List.of() : receiverSecrets.stream().map(String::trim).filter(s -> !s.isEmpty()).toList(),
              noAuth,
              pathling.forwardMode,
              pathling.batchMax,
              pathling.linger,
              maxBody,
              pathling.parallelTypes,
              ResilienceSettings.DEFAULTS);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    java.util.Optional<Relay.CatchUpSettings> catchUp = java.util.Optional.empty();
    if (catchUpInterval != null && (sourceUrl == null || sourceUrl.isBlank())) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval needs --source-url (or SOURCE_URL)");
    }
    if (catchUpInterval != null && (catchUpInterval.isNegative() || catchUpInterval.isZero())) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval must be positive");
    }
    if (sourceUrl != null && !sourceUrl.isBlank()) {
      catchUp = java.util.Optional.of(new Relay.CatchUpSettings(
          sourceUrl, java.util.Optional.ofNullable(sourceToken).filter(t -> !t.isBlank()), catchUpInterval,
          downloadConcurrency, Relay.CatchUpSettings.DEFAULT_PING_DEBOUNCE));
    }
    Relay relay = Relay.start(config, catchUp, Clock.systemUTC());
    Thread hook = new Thread(relay::close, "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    relay.awaitStop();
    return 0;
  }
}
