package org.pathlingrelay.cli;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.pathlingrelay.forward.ForwardMode;
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

  @Option(names = "--port", defaultValue = "8080", description = "Port to listen on. Env RELAY_PORT. Default: ${DEFAULT-VALUE}")
  int port;

  @Option(names = "--bind", defaultValue = "0.0.0.0", description = "Address to listen on. Env RELAY_BIND. Default: ${DEFAULT-VALUE}")
  String bind;

  @Option(names = "--pathling-url", defaultValue = "http://localhost:8081/fhir", description = "Pathling's FHIR base URL. Env PATHLING_URL. Default: ${DEFAULT-VALUE}")
  String pathlingUrl;

  @Option(names = "--pathling-token", description = "Static bearer token for Pathling. Env PATHLING_TOKEN.")
  String pathlingToken;

  @Option(names = "--pathling-timeout", defaultValue = "5m", description = "How long to wait for Pathling to answer one request. Env PATHLING_TIMEOUT. Default: ${DEFAULT-VALUE}")
  Duration pathlingTimeout;

  @Option(names = "--receiver-secret", split = ",", description = "Bearer secret(s) the source must send; comma-separate several to rotate. Env RELAY_SECRET.")
  List<String> receiverSecrets;

  @Option(names = "--no-auth", description = "Accept notifications without a secret (testing only). Env RELAY_NO_AUTH.")
  boolean noAuth;

  @Option(names = "--forward-mode", defaultValue = "batch", description = "batch or update. Env RELAY_FORWARD_MODE. Default: ${DEFAULT-VALUE}")
  ForwardMode forwardMode;

  @Option(names = "--batch-max", defaultValue = "5000", description = "Most changes in one request to Pathling. Env RELAY_BATCH_MAX. Default: ${DEFAULT-VALUE}")
  int batchMax;

  @Option(names = "--linger", defaultValue = "200ms", description = "Longest a change waits for company before it is sent. Env RELAY_LINGER. Default: ${DEFAULT-VALUE}")
  Duration linger;

  @Option(names = "--max-body", defaultValue = "16MiB", converter = ByteSizeConverter.class, description = "Largest notification body accepted. Env RELAY_MAX_BODY. Default: ${DEFAULT-VALUE}")
  long maxBody;

  @Option(names = "--parallel-types", defaultValue = "4", description = "Resource types forwarded at once (one request per type). Env RELAY_PARALLEL_TYPES. Default: ${DEFAULT-VALUE}")
  int parallelTypes;

  @Override
  public Integer call() throws Exception {
    RelayConfig config;
    try {
      config =
          new RelayConfig(
              bind,
              port,
              common.dataDir,
              stripTrailingSlash(pathlingUrl),
              Optional.ofNullable(pathlingToken).filter(token -> !token.isBlank()),
              pathlingTimeout,
              receiverSecrets == null ? List.of() : receiverSecrets.stream().map(String::trim).filter(s -> !s.isEmpty()).toList(),
              noAuth,
              forwardMode,
              batchMax,
              linger,
              maxBody,
              parallelTypes,
              ResilienceSettings.DEFAULTS);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    Relay relay = Relay.start(config, Clock.systemUTC());
    Thread hook = new Thread(relay::close, "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    relay.awaitStop();
    return 0;
  }

  private static String stripTrailingSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }
}
