package org.pathlingrelay.cli;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.hosting.TlsSettings;
import org.pathlingrelay.pathling.ResilienceSettings;
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

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ServeCommand.class);

  @Spec CommandSpec spec;
  @Mixin CommonOptions common;
  @Mixin PathlingOptions pathling;

  @Option(names = "--port", defaultValue = "8082", description = "Port to listen on. Env RELAY_PORT. Default: ${DEFAULT-VALUE}")
  int port;

  @Option(names = "--bind", defaultValue = "0.0.0.0", description = "Address to listen on. Env RELAY_BIND. Default: ${DEFAULT-VALUE}")
  String bind;

  @Option(names = "--receiver-secret", split = ",", description = "Bearer secret(s) the source must send; comma-separate several to rotate. Env RELAY_SECRET.")
  List<String> receiverSecrets;

  @Option(names = "--no-auth", description = "Accept notifications without a secret (testing only). Env RELAY_NO_AUTH.")
  boolean noAuth;

  @Option(names = "--max-body", defaultValue = "16MiB", converter = ByteSizeConverter.class, description = "Largest notification body accepted. Env RELAY_MAX_BODY. Default: ${DEFAULT-VALUE}")
  long maxBody;

  @Option(names = "--idle-timeout", defaultValue = "30s", converter = DurationConverter.class, description = "Close a connection that sends nothing for this long. Env RELAY_IDLE_TIMEOUT. Default: ${DEFAULT-VALUE}")
  java.time.Duration idleTimeout;

  @Option(names = "--request-read-timeout", defaultValue = "30s", converter = DurationConverter.class, description = "Close a connection whose request has not arrived in full this long after its first byte (slow senders). Env RELAY_REQUEST_READ_TIMEOUT. Default: ${DEFAULT-VALUE}")
  java.time.Duration requestReadTimeout;

  @Option(names = "--max-concurrent-requests", defaultValue = "100", description = "Notifications handled at once; above it the answer is 503 with Retry-After. Env RELAY_MAX_CONCURRENT_REQUESTS. Default: ${DEFAULT-VALUE}")
  int maxConcurrentRequests;

  @Option(names = "--receiver-secret-file", description = "File of receiver secrets, one per line (keeps them out of process listings). Env RELAY_SECRET_FILE.")
  java.nio.file.Path receiverSecretFile;

  @Mixin CatchUpOptions catchUpOptions;
  @Mixin TlsOptions tlsOptions;

  /** Catch-up from the source inside the server. */
  static final class CatchUpOptions implements HelpSection {
    @Option(names = "--source-url", description = "The source's FHIR base URL, for catch-up. Env SOURCE_URL.")
    String sourceUrl;

    @Mixin SourceAuthOptions sourceAuth;

    @Option(names = "--catch-up-interval", description = "Run sync on this schedule (e.g. PT1H), and after pings. Needs --source-url. Env RELAY_CATCH_UP_INTERVAL.")
    java.time.Duration catchUpInterval;

    @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once during catch-up. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
    int downloadConcurrency;

    @Override
    public String heading() {
      return "Catch-up from the source";
    }
  }

  /** HTTPS on the receiver. */
  static final class TlsOptions implements HelpSection {
    @Option(names = "--tls-cert", description = "PEM certificate chain: serve HTTPS. Env RELAY_TLS_CERT.")
    java.nio.file.Path tlsCert;

    @Option(names = "--tls-key", description = "PEM (PKCS#8) private key of --tls-cert. Env RELAY_TLS_KEY.")
    java.nio.file.Path tlsKey;

    @Option(names = "--tls-keystore", description = "PKCS#12 (or .jks) keystore instead of --tls-cert/--tls-key. Env RELAY_TLS_KEYSTORE.")
    java.nio.file.Path tlsKeystore;

    @Option(names = "--tls-keystore-password-file", description = "File holding the keystore password. Env RELAY_TLS_KEYSTORE_PASSWORD_FILE.")
    java.nio.file.Path tlsKeystorePasswordFile;

    @Option(names = "--tls-client-ca", description = "PEM CA certificates: require client certificates signed by them. Env RELAY_TLS_CLIENT_CA.")
    java.nio.file.Path tlsClientCa;

    @Override
    public String heading() {
      return "TLS";
    }
  }

  private java.util.Optional<TlsSettings> tls() throws java.io.IOException {
    java.util.Optional<java.nio.file.Path> clientCa = java.util.Optional.ofNullable(tlsOptions.tlsClientCa);
    if (tlsOptions.tlsKeystore != null) {
      char[] password = tlsOptions.tlsKeystorePasswordFile == null ? new char[0]
          : java.nio.file.Files.readString(tlsOptions.tlsKeystorePasswordFile).trim().toCharArray();
      return java.util.Optional.of(TlsSettings.fromKeyStore(tlsOptions.tlsKeystore, password, clientCa));
    }
    if ((tlsOptions.tlsCert == null) != (tlsOptions.tlsKey == null)) {
      throw new ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
    }
    if (tlsOptions.tlsCert != null) {
      return java.util.Optional.of(TlsSettings.fromPem(tlsOptions.tlsCert, tlsOptions.tlsKey, clientCa));
    }
    if (clientCa.isPresent()) {
      throw new ParameterException(spec.commandLine(), "--tls-client-ca needs --tls-cert/--tls-key or --tls-keystore");
    }
    return java.util.Optional.empty();
  }

  private List<String> secrets() throws java.io.IOException {
    List<String> all = new java.util.ArrayList<>();
    if (receiverSecrets != null) {
      all.addAll(receiverSecrets);
    }
    if (receiverSecretFile != null) {
      all.addAll(java.nio.file.Files.readAllLines(receiverSecretFile));
    }
    return all.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

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
              secrets(),
              noAuth,
              pathling.forwardMode,
              pathling.batchMax,
              pathling.linger,
              maxBody,
              pathling.parallelTypes,
              ResilienceSettings.DEFAULTS,
              new HttpLimits(HttpLimits.DEFAULTS.maxHeaderBytes(), idleTimeout, requestReadTimeout,
                  maxConcurrentRequests));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    java.util.Optional<Relay.CatchUpSettings> catchUp = java.util.Optional.empty();
    if (catchUpOptions.catchUpInterval != null && (catchUpOptions.sourceUrl == null || catchUpOptions.sourceUrl.isBlank())) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval needs --source-url (or SOURCE_URL)");
    }
    if (catchUpOptions.catchUpInterval != null && (catchUpOptions.catchUpInterval.isNegative() || catchUpOptions.catchUpInterval.isZero())) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval must be positive");
    }
    if (catchUpOptions.sourceUrl != null && !catchUpOptions.sourceUrl.isBlank()) {
      catchUp = java.util.Optional.of(new Relay.CatchUpSettings(
          catchUpOptions.sourceUrl, catchUpOptions.sourceAuth.options().tokens(catchUpOptions.sourceUrl, Clock.systemUTC()), catchUpOptions.catchUpInterval,
          catchUpOptions.downloadConcurrency, Relay.CatchUpSettings.DEFAULT_PING_DEBOUNCE));
    }
    java.util.Optional<TlsSettings> tls;
    try {
      tls = tls();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    Relay relay = Relay.start(config, catchUp, pathling.tokens(), tls, Clock.systemUTC());
    log.info("Changes Pathling refuses become dead letters; to list them: {}", DeadLettersCommand.listHint(common));
    Thread hook = new Thread(relay::close, "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    relay.awaitStop();
    return 0;
  }
}
