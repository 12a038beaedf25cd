package org.pathlingrelay.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.hosting.HttpLimits;
import org.pathlingrelay.hosting.TlsSettings;
import org.pathlingrelay.wiring.CatchUpSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.ReceiverSettings;
import org.pathlingrelay.wiring.SourceSettings;
import org.pathlingrelay.wiring.VerifySettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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

  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

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
  Duration idleTimeout;

  @Option(names = "--request-read-timeout", defaultValue = "30s", converter = DurationConverter.class, description = "Close a connection whose request has not arrived in full this long after its first byte (slow senders). Env RELAY_REQUEST_READ_TIMEOUT. Default: ${DEFAULT-VALUE}")
  Duration requestReadTimeout;

  @Option(names = "--max-concurrent-requests", defaultValue = "100", description = "Notifications handled at once; above it the answer is 503 with Retry-After. Env RELAY_MAX_CONCURRENT_REQUESTS. Default: ${DEFAULT-VALUE}")
  int maxConcurrentRequests;

  @Option(names = "--receiver-secret-file", description = "File of receiver secrets, one per line (keeps them out of process listings). Env RELAY_SECRET_FILE.")
  Path receiverSecretFile;

  @Mixin CatchUpOptions catchUpOptions;
  @Mixin VerifyOptions verifyOptions;
  @Mixin TlsOptions tlsOptions;

  /** Catch-up from the source inside the server. */
  static final class CatchUpOptions implements HelpSection {
    @Option(names = "--source-url", description = "The source's FHIR base URL, for catch-up. Env SOURCE_URL.")
    String sourceUrl;

    @Mixin SourceAuthOptions sourceAuth;

    @Option(names = "--catch-up-interval", description = "Run sync on this schedule (e.g. PT1H), and after pings. Needs --source-url. Env RELAY_CATCH_UP_INTERVAL.")
    Duration catchUpInterval;

    @Option(names = "--download-concurrency", defaultValue = "4", description = "Export files downloaded at once during catch-up. Env RELAY_DOWNLOAD_CONCURRENCY. Default: ${DEFAULT-VALUE}")
    int downloadConcurrency;

    @Override
    public String heading() {
      return "Catch-up from the source";
    }
  }

  /** Checks of Pathling against the source, on a schedule; they report, they do not repair. */
  static final class VerifyOptions implements HelpSection {
    @Option(names = "--verify-interval", description = "Compare each type's count in the source and in Pathling on"
        + " this schedule (e.g. 1h); off by default. Reports on /status, /metrics and the log; mend with verify"
        + " --repair. Needs --source-url. Env RELAY_VERIFY_INTERVAL.")
    Duration verifyInterval;

    @Option(names = "--verify-full-interval", description = "Compare ids and versions, as verify does, on this"
        + " schedule (e.g. 24h); off by default. Needs --source-url. Env RELAY_VERIFY_FULL_INTERVAL.")
    Duration verifyFullInterval;

    @Option(names = "--verify-type", split = ",", description = "Types the scheduled checks compare (default: every"
        + " type the outbox holds). Env RELAY_VERIFY_TYPE.")
    List<String> verifyTypes;

    @Override
    public String heading() {
      return "Verify on a schedule";
    }
  }

  /** HTTPS on the receiver. */
  static final class TlsOptions implements HelpSection {
    @Option(names = "--tls-cert", description = "PEM certificate chain: serve HTTPS. Env RELAY_TLS_CERT.")
    Path tlsCert;

    @Option(names = "--tls-key", description = "PEM (PKCS#8) private key of --tls-cert. Env RELAY_TLS_KEY.")
    Path tlsKey;

    @Option(names = "--tls-keystore", description = "PKCS#12 (or .jks) keystore instead of --tls-cert/--tls-key. Env RELAY_TLS_KEYSTORE.")
    Path tlsKeystore;

    @Option(names = "--tls-keystore-password-file", description = "File holding the keystore password. Env RELAY_TLS_KEYSTORE_PASSWORD_FILE.")
    Path tlsKeystorePasswordFile;

    @Option(names = "--tls-client-ca", description = "PEM CA certificates: require client certificates signed by them. Env RELAY_TLS_CLIENT_CA.")
    Path tlsClientCa;

    @Override
    public String heading() {
      return "TLS";
    }
  }

  private Optional<TlsSettings> tls() throws IOException {
    Optional<Path> clientCa = Optional.ofNullable(tlsOptions.tlsClientCa);
    if (tlsOptions.tlsKeystore != null) {
      char[] password = tlsOptions.tlsKeystorePasswordFile == null ? new char[0]
          : Files.readString(tlsOptions.tlsKeystorePasswordFile).trim().toCharArray();
      return Optional.of(TlsSettings.fromKeyStore(tlsOptions.tlsKeystore, password, clientCa));
    }
    if ((tlsOptions.tlsCert == null) != (tlsOptions.tlsKey == null)) {
      throw new ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
    }
    if (tlsOptions.tlsCert != null) {
      return Optional.of(TlsSettings.fromPem(tlsOptions.tlsCert, tlsOptions.tlsKey, clientCa));
    }
    if (clientCa.isPresent()) {
      throw new ParameterException(spec.commandLine(), "--tls-client-ca needs --tls-cert/--tls-key or --tls-keystore");
    }
    return Optional.empty();
  }

  private List<String> secrets() throws IOException {
    List<String> all = new ArrayList<>();
    if (receiverSecrets != null) {
      all.addAll(receiverSecrets);
    }
    if (receiverSecretFile != null) {
      all.addAll(Files.readAllLines(receiverSecretFile));
    }
    return all.stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  /** Catch-up, and reading what id-only notifications name, when a source is given. */
  private Optional<CatchUpSettings> catchUp() {
    Duration interval = catchUpOptions.catchUpInterval;
    boolean hasSource = catchUpOptions.sourceUrl != null && !catchUpOptions.sourceUrl.isBlank();
    if (interval != null && !hasSource) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval needs --source-url (or SOURCE_URL)");
    }
    if (interval != null && (interval.isNegative() || interval.isZero())) {
      throw new ParameterException(spec.commandLine(), "--catch-up-interval must be positive");
    }
    if (!hasSource) {
      return Optional.empty();
    }
    AccessTokens tokens = catchUpOptions.sourceAuth.options().tokens(catchUpOptions.sourceUrl, Clock.systemUTC());
    return Optional.of(new CatchUpSettings(
        new SourceSettings(catchUpOptions.sourceUrl, tokens, catchUpOptions.downloadConcurrency),
        interval, CatchUpSettings.DEFAULT_PING_DEBOUNCE));
  }

  /** Scheduled checks against the source, when an interval is given. */
  private Optional<VerifySettings> verify(boolean hasSource) {
    Duration counts = positive("--verify-interval", verifyOptions.verifyInterval);
    Duration full = positive("--verify-full-interval", verifyOptions.verifyFullInterval);
    List<String> types = ResourceTypeNames.checked(spec, "--verify-type", verifyOptions.verifyTypes);
    if (counts == null && full == null) {
      if (!types.isEmpty()) {
        throw new ParameterException(spec.commandLine(), "--verify-type needs --verify-interval or --verify-full-interval");
      }
      return Optional.empty();
    }
    if (!hasSource) {
      throw new ParameterException(spec.commandLine(),
          (counts != null ? "--verify-interval" : "--verify-full-interval") + " needs --source-url (or SOURCE_URL)");
    }
    return Optional.of(new VerifySettings(counts, full, types));
  }

  private Duration positive(String option, Duration duration) {
    if (duration != null && (duration.isNegative() || duration.isZero())) {
      throw new ParameterException(spec.commandLine(), option + " must be positive");
    }
    return duration;
  }

  @Override
  public Integer call() throws Exception {
    List<String> secrets = secrets();
    Optional<CatchUpSettings> catchUp = catchUp();
    Optional<VerifySettings> verify = verify(catchUp.isPresent());
    Optional<TlsSettings> tls;
    try {
      tls = tls();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    HttpLimits httpLimits =
        new HttpLimits(HttpLimits.DEFAULTS.maxHeaderBytes(), idleTimeout, requestReadTimeout, maxConcurrentRequests);
    // Outside the try: a bad credential option fails as before, not as a usage error.
    ForwardingSettings forwarding = pathling.forwarding();
    RelayConfig config;
    try {
      config = new RelayConfig(
          new ReceiverSettings(bind, port, secrets, noAuth, maxBody, httpLimits, tls), common.dataDir, forwarding,
          catchUp, verify);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    Relay relay = Relay.start(config, Clock.systemUTC());
    log.info("Changes Pathling refuses become dead letters; to list them: {}", DeadLettersCommand.listHint(common));
    Thread hook = new Thread(relay::close, "shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    relay.awaitStop();
    return 0;
  }
}
