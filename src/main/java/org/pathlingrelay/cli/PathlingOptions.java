package org.pathlingrelay.cli;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.forward.Linger;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/** How to reach Pathling and how to forward to it; shared by every command that forwards. */
final class PathlingOptions implements HelpSection {

  @Override
  public String heading() {
    return "Pathling";
  }

  @Option(names = "--pathling-url", defaultValue = "http://localhost:8081/fhir", description = "Pathling's FHIR base URL. Env PATHLING_URL. Default: ${DEFAULT-VALUE}")
  String pathlingUrl;

  @Option(names = "--pathling-token", description = "Static bearer token for Pathling. Env PATHLING_TOKEN.")
  String pathlingToken;

  @Option(names = "--pathling-timeout", defaultValue = "5m", description = "How long to wait for Pathling to answer one request. Env PATHLING_TIMEOUT. Default: ${DEFAULT-VALUE}")
  Duration pathlingTimeout;

  @Option(names = "--forward-mode", defaultValue = "batch", description = "batch or update. Env RELAY_FORWARD_MODE. Default: ${DEFAULT-VALUE}")
  ForwardMode forwardMode;

  @Option(names = "--batch-max", defaultValue = "5000", description = "Most changes in one request to Pathling. Env RELAY_BATCH_MAX. Default: ${DEFAULT-VALUE}")
  int batchMax;

  @Option(names = "--linger", defaultValue = "1s", description = "A type's changes are sent once none has come for this long. Env RELAY_LINGER. Default: ${DEFAULT-VALUE}")
  Duration linger;

  @Option(names = "--linger-max", description = "Longest a change waits for company while more keep coming (a burst). Env RELAY_LINGER_MAX. Default: 5s, or --linger if that is longer")
  Duration lingerMax;

  /** Without --linger-max, a burst waits at most this long for company. */
  static final Duration DEFAULT_LINGER_MAX = Duration.ofSeconds(5);

  @Option(names = "--parallel-types", defaultValue = "4", description = "Resource types forwarded at once (one request per type). Env RELAY_PARALLEL_TYPES. Default: ${DEFAULT-VALUE}")
  int parallelTypes;

  @Mixin PathlingAuthOptions auth;

  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  /** What a forwarder to this Pathling needs, with the default retries and circuit breaker. */
  ForwardingSettings forwarding() {
    return new ForwardingSettings(baseUrl(), tokens(), pathlingTimeout, forwardMode, batchMax, linger(), parallelTypes,
        ResilienceSettings.DEFAULTS);
  }

  /** {@code --linger} and {@code --linger-max}; a mistake in them is a usage error, naming them. */
  private Linger linger() {
    Duration max = lingerMax != null ? lingerMax
        : DEFAULT_LINGER_MAX.compareTo(linger) >= 0 ? DEFAULT_LINGER_MAX : linger;
    try {
      return new Linger(linger, max);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }

  AccessTokens tokens() {
    return auth.options(token()).tokens(baseUrl(), Clock.systemUTC());
  }

  String baseUrl() {
    return pathlingUrl.endsWith("/") ? pathlingUrl.substring(0, pathlingUrl.length() - 1) : pathlingUrl;
  }

  Optional<String> token() {
    return Optional.ofNullable(pathlingToken).filter(token -> !token.isBlank());
  }
}
