package org.pathlingrelay.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.forward.Linger;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.DeadLetter;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.PendingChange;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;
import org.pathlingrelay.pathling.ResilienceSettings;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.pathlingrelay.wiring.ReceiverSettings;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The command line's public contract: option names, environment variables, the YAML config file,
 * their precedence, value formats, exit codes, and the dead-letters commands on a real outbox.
 * Nothing here starts a server: {@code serve} is only executed where it must refuse to start, and
 * then on loopback and a free port, under a timeout, so that a regression fails instead of hanging.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CommandLineTest {

  private static final Map<String, String> NO_ENV = Map.of();

  @TempDir Path dir;

  // ---------------------------------------------------------------------------------------------
  // helpers

  /** What one execution of the command line printed and returned. */
  record Run(int exitCode, String out, String err) {}

  /** Executes like {@link Main#run} does, but with captured output. */
  private static Run execute(Map<String, String> env, String... args) throws IOException {
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, env));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(args);
    return new Run(exitCode, out.toString(), err.toString());
  }

  /** Runs {@link Main#run} itself, capturing what it writes to System.out and System.err. */
  private static Run runMain(Map<String, String> env, String... args) {
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exitCode;
    try {
      System.setOut(new PrintStream(out, true, UTF_8));
      System.setErr(new PrintStream(err, true, UTF_8));
      exitCode = Main.run(args, env);
    } finally {
      System.setOut(originalOut);
      System.setErr(originalErr);
    }
    return new Run(exitCode, out.toString(UTF_8), err.toString(UTF_8));
  }

  /** Parses {@code serve <args>} without running it, and hands back the populated command. */
  private static ServeCommand parseServe(Map<String, String> env, String... args)
      throws IOException {
    String[] full = new String[args.length + 1];
    full[0] = "serve";
    System.arraycopy(args, 0, full, 1, args.length);
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(full, env));
    ParseResult parsed = commandLine.parseArgs(full);
    assertThat(parsed.hasSubcommand()).isTrue();
    return (ServeCommand) parsed.subcommand().commandSpec().userObject();
  }

  /**
   * Executes {@code serve} on loopback and a free port with its data dir under {@link #dir}, so
   * that a regression that does start harms nothing.
   */
  private Run serve(Map<String, String> env, String... extra) throws IOException {
    List<String> args = new ArrayList<>(List.of(
        "serve", "--data-dir", dir.resolve("data").toString(), "--bind", "127.0.0.1", "--port", "0"));
    args.addAll(List.of(extra));
    return execute(env, args.toArray(String[]::new));
  }

  private Path yaml(String text) throws IOException {
    Path file = dir.resolve("relay.yaml");
    Files.writeString(file, text, UTF_8);
    return file;
  }

  private static Map<String, String> env(String... keysAndValues) {
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      env.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return env;
  }

  // ---------------------------------------------------------------------------------------------
  // 1. precedence: flag > env > config file > default

  /**
   * One row of the public contract: how to set an option at each level, and what the parsed
   * value must then be. Every level's value differs from the level below it, so a level that is
   * ignored shows up as the wrong value.
   */
  record Contract(
      String flag,
      String envName,
      Function<ServeCommand, Object> parsed,
      Object byDefault,
      String inFile,
      Object fromFile,
      String inEnv,
      Object fromEnv,
      String onFlag,
      Object fromFlag) {

    String key() {
      return flag.substring(2);
    }

    @Override
    public String toString() {
      return flag;
    }
  }

  static Stream<Contract> contract() {
    return Stream.of(
        new Contract("--port", "RELAY_PORT", s -> s.port,
            8082, "9000", 9000, "9100", 9100, "9200", 9200),
        new Contract("--bind", "RELAY_BIND", s -> s.bind,
            "0.0.0.0", "10.0.0.1", "10.0.0.1", "127.0.0.1", "127.0.0.1", "192.168.1.5", "192.168.1.5"),
        new Contract("--data-dir", "RELAY_DATA_DIR", s -> s.common.dataDir,
            Path.of("./data"), "/srv/file-dir", Path.of("/srv/file-dir"),
            "/srv/env-dir", Path.of("/srv/env-dir"), "/srv/flag-dir", Path.of("/srv/flag-dir")),
        new Contract("--pathling-url", "PATHLING_URL", s -> s.pathling.pathlingUrl,
            "http://localhost:8081/fhir", "http://file:8080/fhir", "http://file:8080/fhir",
            "http://env/fhir", "http://env/fhir", "https://flag/fhir", "https://flag/fhir"),
        new Contract("--pathling-token", "PATHLING_TOKEN", s -> s.pathling.pathlingToken,
            null, "file-token", "file-token", "env-token", "env-token", "flag-token", "flag-token"),
        new Contract("--pathling-timeout", "PATHLING_TIMEOUT", s -> s.pathling.pathlingTimeout,
            Duration.ofMinutes(5), "30s", Duration.ofSeconds(30), "1m", Duration.ofMinutes(1),
            "2h", Duration.ofHours(2)),
        new Contract("--receiver-secret", "RELAY_SECRET", s -> s.receiverSecrets,
            null, "file-secret", List.of("file-secret"), "env-old,env-new", List.of("env-old", "env-new"),
            "flag-secret", List.of("flag-secret")),
        new Contract("--forward-mode", "RELAY_FORWARD_MODE", s -> s.pathling.forwardMode,
            ForwardMode.BATCH, "update", ForwardMode.UPDATE, "BATCH", ForwardMode.BATCH,
            "Update", ForwardMode.UPDATE),
        new Contract("--batch-max", "RELAY_BATCH_MAX", s -> s.pathling.batchMax,
            5000, "100", 100, "200", 200, "300", 300),
        new Contract("--linger", "RELAY_LINGER", s -> s.pathling.linger,
            Duration.ofSeconds(1), "2s", Duration.ofSeconds(2), "2m", Duration.ofMinutes(2),
            "PT3H", Duration.ofHours(3)),
        new Contract("--max-body", "RELAY_MAX_BODY", s -> s.maxBody,
            16_777_216L, "1KiB", 1024L, "10MB", 10_000_000L, "512KiB", 524_288L),
        new Contract("--parallel-types", "RELAY_PARALLEL_TYPES", s -> s.pathling.parallelTypes,
            4, "8", 8, "2", 2, "1", 1),
        new Contract("--idle-timeout", "RELAY_IDLE_TIMEOUT", s -> s.idleTimeout,
            Duration.ofSeconds(30), "10s", Duration.ofSeconds(10), "1m", Duration.ofMinutes(1),
            "5s", Duration.ofSeconds(5)),
        new Contract("--request-read-timeout", "RELAY_REQUEST_READ_TIMEOUT", s -> s.requestReadTimeout,
            Duration.ofSeconds(30), "20s", Duration.ofSeconds(20), "45s", Duration.ofSeconds(45),
            "2m", Duration.ofMinutes(2)),
        new Contract("--max-concurrent-requests", "RELAY_MAX_CONCURRENT_REQUESTS",
            s -> s.maxConcurrentRequests, 100, "50", 50, "200", 200, "10", 10));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("contract")
  void flag_beatsEnvironment_beatsFile_beatsDefault(Contract option) throws IOException {
    Path file = yaml(option.key() + ": " + option.inFile() + "\n");
    String config = "--config=" + file;
    Map<String, String> env = env(option.envName(), option.inEnv());

    assertThat(option.parsed().apply(parseServe(NO_ENV)))
        .as("%s with nothing set", option.flag())
        .isEqualTo(option.byDefault());
    assertThat(option.parsed().apply(parseServe(NO_ENV, config)))
        .as("%s from the config file", option.flag())
        .isEqualTo(option.fromFile());
    assertThat(option.parsed().apply(parseServe(env, config)))
        .as("%s from %s over the config file", option.flag(), option.envName())
        .isEqualTo(option.fromEnv());
    assertThat(option.parsed().apply(parseServe(env, config, option.flag(), option.onFlag())))
        .as("%s on the command line over %s and the config file", option.flag(), option.envName())
        .isEqualTo(option.fromFlag());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("contract")
  void environmentVariable_alone_beatsDefault(Contract option) throws IOException {
    assertThat(option.parsed().apply(parseServe(env(option.envName(), option.inEnv()))))
        .isEqualTo(option.fromEnv());
  }

  @Test
  void noAuth_isOffByDefault_fileTurnsItOn_envFalseTurnsItBackOff_flagWins() throws IOException {
    String config = "--config=" + yaml("no-auth: true\n");

    assertThat(parseServe(NO_ENV).noAuth).isFalse();
    assertThat(parseServe(NO_ENV, config).noAuth).isTrue();
    assertThat(parseServe(env("RELAY_NO_AUTH", "false"), config).noAuth).isFalse();
    assertThat(parseServe(env("RELAY_NO_AUTH", "false"), config, "--no-auth").noAuth).isTrue();
    assertThat(parseServe(env("RELAY_NO_AUTH", "true")).noAuth).isTrue();
  }

  @Test
  void emptyEnvironmentVariable_countsAsUnset_soTheFileStillApplies() throws IOException {
    String config = "--config=" + yaml("port: 9000\npathling-url: http://file/fhir\n");

    ServeCommand serve = parseServe(env("RELAY_PORT", "", "PATHLING_URL", ""), config);

    assertThat(serve.port).isEqualTo(9000);
    assertThat(serve.pathling.pathlingUrl).isEqualTo("http://file/fhir");
  }

  // ---- where the config file comes from

  private static final String FULL_CONFIG =
      """
      pathling-url: http://x/fhir
      port: 9000
      bind: 127.0.0.1
      receiver-secret: [a, b]
      forward-mode: update
      batch-max: 250
      linger: 1s
      max-body: 1MiB
      """;

  private static void assertFullConfigApplied(ServeCommand serve) {
    assertThat(serve.pathling.pathlingUrl).isEqualTo("http://x/fhir");
    assertThat(serve.port).isEqualTo(9000);
    assertThat(serve.bind).isEqualTo("127.0.0.1");
    assertThat(serve.receiverSecrets).containsExactly("a", "b");
    assertThat(serve.pathling.forwardMode).isEqualTo(ForwardMode.UPDATE);
    assertThat(serve.pathling.batchMax).isEqualTo(250);
    assertThat(serve.pathling.linger).isEqualTo(Duration.ofSeconds(1));
    assertThat(serve.maxBody).isEqualTo(1_048_576L);
  }

  @Test
  void configFile_namedWithSeparateArgument_isRead() throws IOException {
    Path file = yaml(FULL_CONFIG);

    ServeCommand serve = parseServe(NO_ENV, "--config", file.toString());

    assertFullConfigApplied(serve);
    assertThat(serve.common.config).isEqualTo(file);
  }

  @Test
  void configFile_namedWithEqualsSign_isRead() throws IOException {
    Path file = yaml(FULL_CONFIG);

    assertFullConfigApplied(parseServe(NO_ENV, "--config=" + file));
  }

  @Test
  void configFile_namedByRelayConfigVariable_isRead() throws IOException {
    Path file = yaml(FULL_CONFIG);

    assertFullConfigApplied(parseServe(env("RELAY_CONFIG", file.toString())));
  }

  @Test
  void configFlag_beatsRelayConfigVariable() throws IOException {
    Path fromEnv = dir.resolve("env.yaml");
    Files.writeString(fromEnv, "port: 7000\n", UTF_8);
    Path fromFlag = yaml("port: 7001\n");

    ServeCommand serve = parseServe(env("RELAY_CONFIG", fromEnv.toString()), "--config", fromFlag.toString());

    assertThat(serve.port).isEqualTo(7001);
  }

  @Test
  void receiverSecretInFile_asCommaSeparatedString_isAListToo() throws IOException {
    Path file = yaml("receiver-secret: \"old-secret,new-secret\"\n");

    assertThat(parseServe(NO_ENV, "--config", file.toString()).receiverSecrets)
        .containsExactly("old-secret", "new-secret");
  }

  @Test
  void emptyConfigFile_leavesTheDefaults() throws IOException {
    Path file = yaml("");

    ServeCommand serve = parseServe(NO_ENV, "--config", file.toString());

    assertThat(serve.port).isEqualTo(8082);
    assertThat(serve.pathling.pathlingUrl).isEqualTo("http://localhost:8081/fhir");
    assertThat(serve.receiverSecrets).isNull();
  }

  @Test
  void configFile_appliesToDeadLettersCommandsToo() throws Exception {
    Path dataDir = dir.resolve("from-file");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, "refused");
    Path file = yaml("data-dir: " + dataDir + "\n");

    Run run = execute(NO_ENV, "dead-letters", "list", "--config", file.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Patient/x");
  }

  @Test
  void missingConfigFile_exitsWithUsageError_andSaysWhichFile() {
    Path missing = dir.resolve("nope.yaml");

    Run run = runMain(NO_ENV, "serve", "--no-auth", "--bind", "127.0.0.1", "--port", "0",
        "--data-dir", dir.resolve("data").toString(), "--config", missing.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("config file").contains("nope.yaml").contains("does not exist");
    assertThatThrownBy(() -> EnvironmentDefaults.from(new String[] {"--config=" + missing}, NO_ENV))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(missing.toString());
  }

  @Test
  void missingConfigFileFromRelayConfigVariable_exitsWithUsageError() {
    Path missing = dir.resolve("gone.yaml");

    Run run = runMain(env("RELAY_CONFIG", missing.toString()), "serve", "--no-auth",
        "--bind", "127.0.0.1", "--port", "0", "--data-dir", dir.resolve("data").toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("gone.yaml");
  }

  @Test
  void configFileThatIsNotAMapping_exitsWithUsageError() throws IOException {
    Path file = yaml("- port\n- 9000\n");

    Run run = runMain(NO_ENV, "serve", "--no-auth", "--bind", "127.0.0.1", "--port", "0",
        "--data-dir", dir.resolve("data").toString(), "--config", file.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("must be a YAML mapping");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "pathling_url, pathling-url",
    "pathlingUrl,  pathling-url",
    "pathling-ulr, pathling-url",
    "--port,       port"
  })
  void configFileKeyThatIsNoOption_isRefused_namingTheNearestOption(String key, String nearest)
      throws IOException {
    Path file = yaml(key + ": http://elsewhere:8080/fhir\n");

    Run run = runMain(NO_ENV, "serve", "--no-auth", "--bind", "127.0.0.1", "--port", "0",
        "--data-dir", dir.resolve("data").toString(), "--config", file.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err().strip())
        .isEqualTo("pathling-relay: unknown key '" + key + "' in relay.yaml; did you mean '" + nearest + "'?");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void configFileKeyFarFromEveryOption_isRefused_sayingWhatKeysAre() {
    Path file;
    try {
      file = yaml("port: 9000\nbogus: 1\n");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }

    Run run = runMain(NO_ENV, "dead-letters", "list", "--config", file.toString());

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("unknown key 'bogus' in relay.yaml").contains("long option names");
  }

  @Test
  void configFileKeyOfAnotherCommand_isAccepted_soOneFileServesThemAll() throws Exception {
    Path dataDir = dir.resolve("shared");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, "refused");
    Path file = yaml("data-dir: " + dataDir + "\nsource-url: http://hapi/fhir\nport: 9000\nload: pnp\n");

    Run run = runMain(NO_ENV, "dead-letters", "list", "--config", file.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Patient/x");
  }

  // ---------------------------------------------------------------------------------------------
  // 2. several receiver secrets, for rotation

  @Test
  void commaSeparatedReceiverSecrets_onTheFlag_becomeAList() throws IOException {
    assertThat(parseServe(NO_ENV, "--receiver-secret", "old-secret,new-secret").receiverSecrets)
        .containsExactly("old-secret", "new-secret");
  }

  @Test
  void commaSeparatedReceiverSecrets_inRelaySecret_becomeAList() throws IOException {
    assertThat(parseServe(env("RELAY_SECRET", "old-secret,new-secret")).receiverSecrets)
        .containsExactly("old-secret", "new-secret");
  }

  @Test
  void repeatedReceiverSecretFlags_accumulate() throws IOException {
    assertThat(
            parseServe(NO_ENV, "--receiver-secret", "one", "--receiver-secret", "two,three")
                .receiverSecrets)
        .containsExactly("one", "two", "three");
  }

  @Test
  void receiverSecretFlag_replacesRelaySecret_ratherThanAddingToIt() throws IOException {
    assertThat(
            parseServe(env("RELAY_SECRET", "env-a,env-b"), "--receiver-secret", "flag-secret")
                .receiverSecrets)
        .containsExactly("flag-secret");
  }

  // ---------------------------------------------------------------------------------------------
  // 3. durations and sizes

  @ParameterizedTest(name = "--linger {0}")
  @CsvSource({
    "200ms, PT0.2S",
    "5s,    PT5S",
    "2m,    PT2M",
    "1h,    PT1H",
    "PT1H,  PT1H",
    "pt90s, PT1M30S",
    "1d,    PT24H",
    "0ms,   PT0S"
  })
  void durations_acceptShortFormsAndIso8601(String text, String expected) throws IOException {
    assertThat(parseServe(NO_ENV, "--linger", text).pathling.linger).isEqualTo(Duration.parse(expected));
    assertThat(parseServe(NO_ENV, "--pathling-timeout", text).pathling.pathlingTimeout)
        .isEqualTo(Duration.parse(expected));
  }

  @ParameterizedTest(name = "--max-body {0}")
  @CsvSource({
    "16MiB,  16777216",
    "512KiB, 524288",
    "10MB,   10000000",
    "1000,   1000",
    "1GiB,   1073741824",
    "2kb,    2000",
    "64k,    64000",
    "1 MiB,  1048576",
    "300B,   300"
  })
  void sizes_acceptBinaryAndDecimalUnits(String text, long expectedBytes) throws IOException {
    assertThat(parseServe(NO_ENV, "--max-body", text).maxBody).isEqualTo(expectedBytes);
  }

  @ParameterizedTest(name = "--linger {0}")
  @ValueSource(strings = {"soon", "5 parsecs", "-5ms", "1.5s", "ms"})
  void badDuration_exitsWithUsageError_andExplains(String text) throws IOException {
    Run run = serve(NO_ENV, "--no-auth", "--linger", text);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err())
        .contains("--linger")
        .contains("'" + text + "' is not a duration")
        .contains("200ms");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void verifyIntervals_takeSubSecondDurations_fromFlagsOrEnvironment() throws IOException {
    ServeCommand flags = parseServe(NO_ENV, "--verify-interval", "200ms", "--verify-full-interval", "24h",
        "--verify-type", "Patient,Observation");
    assertThat(flags.verifyOptions.verifyInterval).isEqualTo(Duration.ofMillis(200));
    assertThat(flags.verifyOptions.verifyFullInterval).isEqualTo(Duration.ofHours(24));
    assertThat(flags.verifyOptions.verifyTypes).containsExactly("Patient", "Observation");

    ServeCommand fromEnv = parseServe(env("RELAY_VERIFY_INTERVAL", "1h", "RELAY_VERIFY_FULL_INTERVAL", "PT12H"));
    assertThat(fromEnv.verifyOptions.verifyInterval).isEqualTo(Duration.ofHours(1));
    assertThat(fromEnv.verifyOptions.verifyFullInterval).isEqualTo(Duration.ofHours(12));

    ServeCommand off = parseServe(NO_ENV);
    assertThat(off.verifyOptions.verifyInterval).as("off by default").isNull();
    assertThat(off.verifyOptions.verifyFullInterval).isNull();
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({
    "--verify-interval,      soon, is not a duration",
    "--verify-full-interval, 1.5h, is not a duration",
    "--verify-interval,      0s,   must be positive",
    "--verify-full-interval, 0ms,  must be positive"
  })
  void badVerifyInterval_isOneLineNamingTheOption_andAUsageError(String option, String value, String message)
      throws IOException {
    Run run = serve(NO_ENV, "--no-auth", "--source-url", "http://127.0.0.1:9/fhir", option, value);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    List<String> lines = run.err().lines().toList();
    assertThat(lines.get(0)).startsWith("pathling-relay: ").contains(option).contains(message);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(1)).startsWith("see: ").endsWith("serve --help");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void verifyInterval_withoutASource_isAUsageError_namingWhatItNeeds() throws IOException {
    Run run = serve(NO_ENV, "--no-auth", "--verify-interval", "1h");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err().lines().findFirst().orElseThrow())
        .isEqualTo("pathling-relay: --verify-interval needs --source-url (or SOURCE_URL)");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void verifyType_isCheckedAsAResourceType_andNeedsAnInterval() throws IOException {
    Run misspelt = serve(NO_ENV, "--no-auth", "--source-url", "http://127.0.0.1:9/fhir", "--verify-interval", "1h",
        "--verify-type", "Patinet");
    assertThat(misspelt.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(misspelt.err()).contains("--verify-type Patinet is not a FHIR R4 resource type; did you mean Patient?");

    Run alone = serve(NO_ENV, "--no-auth", "--source-url", "http://127.0.0.1:9/fhir", "--verify-type", "Patient");
    assertThat(alone.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(alone.err()).contains("--verify-type needs --verify-interval or --verify-full-interval");
  }

  @ParameterizedTest(name = "--max-body {0}")
  @ValueSource(strings = {"lots", "16XB", "-1", "1.5MiB", "MiB"})
  void badSize_exitsWithUsageError_andExplains(String text) throws IOException {
    Run run = serve(NO_ENV, "--no-auth", "--max-body", text);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err())
        .contains("--max-body")
        .contains("'" + text + "' is not a size")
        .contains("16MiB");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void badValueFromEnvironment_exitsWithUsageError_namingTheOption() throws IOException {
    Run run = serve(env("RELAY_LINGER", "whenever"), "--no-auth");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--linger").contains("'whenever' is not a duration");
  }

  @Test
  void badForwardMode_exitsWithUsageError_listingTheChoices() throws IOException {
    Run run = serve(NO_ENV, "--no-auth", "--forward-mode", "sideways");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--forward-mode").contains("sideways").contains("expected one of batch, update");
  }

  @Test
  void badPort_exitsWithUsageError() throws IOException {
    Run run = execute(NO_ENV, "serve", "--no-auth", "--bind", "127.0.0.1",
        "--data-dir", dir.resolve("data").toString(), "--port", "eighty");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--port").contains("eighty");
  }

  // ---------------------------------------------------------------------------------------------
  // 4. serve refuses to start on a configuration it must not run with

  @Test
  void serve_withoutReceiverSecretOrNoAuth_exitsWithUsageError_explains_andStartsNothing()
      throws IOException {
    Run run = serve(NO_ENV);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("serve needs --receiver-secret").contains("RELAY_SECRET").contains("--no-auth");
    assertThat(run.out()).isEmpty();
    // The outbox is the first thing a starting relay creates.
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void serve_withOnlyBlankReceiverSecrets_countsAsNoSecret() throws IOException {
    Run run = serve(env("RELAY_SECRET", " , "));

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("serve needs --receiver-secret");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void serve_viaMain_withoutReceiverSecret_returnsUsageExitCode() {
    Run run = runMain(NO_ENV, "serve", "--data-dir", dir.resolve("data").toString(),
        "--bind", "127.0.0.1", "--port", "0");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--receiver-secret");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({
    "--batch-max,    0,           --batch-max must be at least 1",
    "--max-body,     0,           --max-body must be positive",
    "--linger,       -PT1S,       --linger must not be negative",
    "--linger-max,   100ms,       --linger-max (PT0.1S) must be at least --linger (PT1S)",
    "--pathling-url, ftp://x/fhir, --pathling-url must be an http(s) URL",
    "--port,         70000,       --port must be between 0 and 65535"
  })
  void serve_withOutOfRangeValue_exitsWithUsageError_andStartsNothing(
      String option, String value, String message) throws IOException {
    List<String> args = new ArrayList<>(List.of(
        "serve", "--data-dir", dir.resolve("data").toString(), "--bind", "127.0.0.1",
        "--receiver-secret", "s"));
    if (!option.equals("--port")) {
      args.addAll(List.of("--port", "0"));
    }
    args.addAll(List.of(option, value));

    Run run = execute(NO_ENV, args.toArray(String[]::new));

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains(message);
    assertThat(dir.resolve("data")).doesNotExist();
  }

  // ---------------------------------------------------------------------------------------------
  // 5. dead-letters list

  private static final String OUTCOME =
      """
      {"resourceType":"OperationOutcome",
       "issue":[{"severity":"error","code":"invalid",
                 "diagnostics":"Patient.birthDate: not a date"}]}""";

  private static void seedDeadLetter(Path dataDir, ResourceKey key, int status, String reason)
      throws Exception {
    try (Outbox outbox = Outbox.open(dataDir.resolve("relay.db"), Clock.systemUTC())) {
      String body = "{\"resourceType\":\"" + key.type() + "\",\"id\":\"" + key.id() + "\"}";
      outbox.append(List.of(Change.upsert(key, new VersionStamp(1L, null), body))).join();
      PendingChange pending =
          outbox.oldest(key.type(), 100).stream()
              .filter(change -> change.key().equals(key))
              .findFirst()
              .orElseThrow();
      outbox.deadLetter(pending, status, reason);
    }
  }

  private static <T> T withOutbox(Path dataDir, OutboxQuery<T> query) throws Exception {
    try (Outbox outbox = Outbox.open(dataDir.resolve("relay.db"), Clock.systemUTC())) {
      return query.apply(outbox);
    }
  }

  private static List<DeadLetter> deadLetters(Path dataDir) throws Exception {
    return withOutbox(dataDir, outbox -> outbox.list(100));
  }

  @FunctionalInterface
  interface OutboxQuery<T> {
    T apply(Outbox outbox) throws Exception;
  }

  @Test
  void deadLettersList_showsResourceStatusAndReason_onOneLineEach() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);

    Run run = execute(NO_ENV, "dead-letters", "list", "--data-dir", dataDir.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.err()).isEmpty();
    List<String> lines = run.out().lines().toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).contains("RESOURCE").contains("STATUS").contains("REASON");
    assertThat(lines.get(1))
        .startsWith("Patient/x ")
        .contains(" upsert ")
        .contains(" 400 ")
        .contains("\"resourceType\":\"OperationOutcome\"")
        .contains("Patient.birthDate: not a date");
  }

  @Test
  void deadLettersList_withNone_saysSo() throws Exception {
    Path dataDir = dir.resolve("data");
    withOutbox(dataDir, outbox -> null);

    Run run = execute(NO_ENV, "dead-letters", "list", "--data-dir", dataDir.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.out().strip()).isEqualTo("No dead letters.");
  }

  @Test
  void deadLettersList_findsTheDataDirThroughRelayDataDir() throws Exception {
    Path dataDir = dir.resolve("env-data");
    seedDeadLetter(dataDir, new ResourceKey("Observation", "o-7"), 422, "unprocessable");

    Run run = execute(env("RELAY_DATA_DIR", dataDir.toString()), "dead-letters", "list");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Observation/o-7").contains("422").contains("unprocessable");
  }

  @Test
  void deadLettersList_limitCapsTheRows() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "a"), 400, "first");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "b"), 400, "second");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "c"), 400, "third");

    Run run = execute(NO_ENV, "dead-letters", "list", "--data-dir", dataDir.toString(), "--limit", "2");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out().lines().filter(line -> line.startsWith("Patient/"))).hasSize(2);
  }

  // ---------------------------------------------------------------------------------------------
  // 6. dead-letters retry

  @Test
  void deadLettersRetry_ofOneResource_putsItBackInTheQueue() throws Exception {
    Path dataDir = dir.resolve("data");
    ResourceKey patient = new ResourceKey("Patient", "x");
    seedDeadLetter(dataDir, patient, 400, OUTCOME);
    seedDeadLetter(dataDir, new ResourceKey("Patient", "other"), 400, OUTCOME);

    Run run = execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString(), "Patient/x");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Moved 1 dead letter(s)");
    withOutbox(dataDir, outbox -> {
      assertThat(outbox.oldest("Patient", 100))
          .singleElement()
          .satisfies(pending -> {
            assertThat(pending.key()).isEqualTo(patient);
            assertThat(pending.change().body()).isEqualTo("{\"resourceType\":\"Patient\",\"id\":\"x\"}");
            assertThat(pending.change().stamp().versionNumber()).isEqualTo(1L);
          });
      assertThat(outbox.list(100))
          .extracting(letter -> letter.change().key())
          .containsExactly(new ResourceKey("Patient", "other"));
      return null;
    });
  }

  @Test
  void deadLettersRetry_thenList_showsNone() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);

    assertThat(execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString(), "Patient/x")
        .exitCode()).isZero();
    Run list = execute(NO_ENV, "dead-letters", "list", "--data-dir", dataDir.toString());

    assertThat(list.out().strip()).isEqualTo("No dead letters.");
    assertThat(deadLetters(dataDir)).isEmpty();
  }

  @Test
  void deadLettersRetryAll_putsEveryOneBack() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);
    seedDeadLetter(dataDir, new ResourceKey("Observation", "y"), 422, OUTCOME);

    Run run = execute(NO_ENV, "dead-letters", "retry", "--all", "--data-dir", dataDir.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Moved 2 dead letter(s)");
    withOutbox(dataDir, outbox -> {
      assertThat(outbox.list(100)).isEmpty();
      assertThat(outbox.oldest("Patient", 100))
          .extracting(PendingChange::key)
          .containsExactly(new ResourceKey("Patient", "x"));
      assertThat(outbox.oldest("Observation", 100))
          .extracting(PendingChange::key)
          .containsExactly(new ResourceKey("Observation", "y"));
      return null;
    });
  }

  @Test
  void deadLettersRetryAll_withNone_succeedsHavingMovedNothing() throws Exception {
    Path dataDir = dir.resolve("data");
    withOutbox(dataDir, outbox -> null);

    Run run = execute(NO_ENV, "dead-letters", "retry", "--all", "--data-dir", dataDir.toString());

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("Moved 0 dead letter(s)");
  }

  @Test
  void deadLettersRetry_ofResourceWithoutDeadLetter_exitsOne_andLeavesOthersAlone() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);

    Run run = execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString(), "Patient/nobody");

    assertThat(run.exitCode()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err().lines().toList()).singleElement().asString()
        .startsWith("pathling-relay: no dead letter Patient/nobody in " + dataDir.resolve("relay.db") + "; ")
        .endsWith(" dead-letters list --data-dir " + dataDir);
    List<DeadLetter> remaining = deadLetters(dataDir);
    assertThat(remaining).extracting(letter -> letter.change().key())
        .containsExactly(new ResourceKey("Patient", "x"));
  }

  @ParameterizedTest(name = "retry \"{0}\"")
  @ValueSource(strings = {"Patient", "Patient/", "/x", "Patient/x/_history/1", " /x"})
  void deadLettersRetry_ofMalformedTypeAndId_exitsWithUsageError(String resource) throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);

    Run run = execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString(), resource);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("Type/id").contains("Patient/123");
    assertThat(deadLetters(dataDir)).hasSize(1);
  }

  @Test
  void deadLettersRetry_needsEitherAResourceOrAll_notNeitherNorBoth() throws Exception {
    Path dataDir = dir.resolve("data");
    seedDeadLetter(dataDir, new ResourceKey("Patient", "x"), 400, OUTCOME);

    Run neither = execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString());
    Run both = execute(NO_ENV, "dead-letters", "retry", "--data-dir", dataDir.toString(), "--all", "Patient/x");

    assertThat(neither.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(neither.err()).contains("--all").contains("Type/id");
    assertThat(both.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(both.err()).contains("Patient/x").contains("dead-letters retry --help");
    assertThat(deadLetters(dataDir)).hasSize(1);
  }

  // ---------------------------------------------------------------------------------------------
  // 7. secrets stay secret

  private static RelayConfig configWithSecrets() {
    return new RelayConfig(
        new ReceiverSettings(
            "0.0.0.0",
            8080,
            List.of("receiver-secret-OLD-not-to-leak", "receiver-secret-NEW-not-to-leak"),
            false,
            16L * 1024 * 1024),
        Path.of("./data"),
        new ForwardingSettings(
            "http://localhost:8081/fhir",
            AccessTokens.fixed(Optional.of("pathling-token-SHOULD-NOT-LEAK")),
            Duration.ofMinutes(5),
            ForwardMode.BATCH,
            5000,
            new Linger(Duration.ofMillis(200), Duration.ofSeconds(5)),
            4,
            ResilienceSettings.DEFAULTS));
  }

  @Test
  void relayConfigToString_neverContainsSecrets_butSaysTheyAreThere() {
    String text = configWithSecrets().toString();

    assertThat(text)
        .doesNotContain("pathling-token-SHOULD-NOT-LEAK")
        .doesNotContain("receiver-secret-OLD-not-to-leak")
        .doesNotContain("receiver-secret-NEW-not-to-leak")
        .doesNotContain("LEAK")
        .contains("pathlingToken=***")
        .contains("receiverSecrets=2 configured")
        .contains("pathlingUrl=http://localhost:8081/fhir")
        .contains("port=8080");
  }

  @Test
  void relayConfigToString_withoutToken_saysNone() {
    RelayConfig config = configWithSecrets();
    ForwardingSettings forwarding = config.forwarding();
    RelayConfig noToken = new RelayConfig(config.receiver(), config.dataDir(),
        new ForwardingSettings(forwarding.pathlingUrl(), AccessTokens.fixed(Optional.empty()),
            forwarding.pathlingTimeout(), forwarding.mode(), forwarding.batchMax(), forwarding.linger(),
            forwarding.parallelTypes(), forwarding.resilience()));

    assertThat(noToken.toString()).contains("pathlingToken=none");
  }

  @Test
  void serveHelp_doesNotShowSecretsTakenFromTheEnvironment() throws IOException {
    Run run = execute(env("RELAY_SECRET", "env-secret-not-to-leak", "PATHLING_TOKEN", "env-token-not-to-leak"),
        "serve", "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("--receiver-secret").doesNotContain("not-to-leak");
  }

  @Test
  void usageErrors_doNotEchoSecrets() throws IOException {
    Run run = serve(env("RELAY_SECRET", "env-secret-not-to-leak", "PATHLING_TOKEN", "env-token-not-to-leak"),
        "--batch-max", "0");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--batch-max").doesNotContain("not-to-leak");
  }

  // ---------------------------------------------------------------------------------------------
  // 8. help and version

  @Test
  void serveHelp_listsTheOptionsWithTheirDefaults_andExitsZero() throws IOException {
    Run run = execute(NO_ENV, "serve", "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out().replaceAll("\\s+", " "))
        .contains("Usage: pathling-relay serve")
        .contains("--port", "--bind", "--data-dir", "--config", "--pathling-url", "--pathling-token",
            "--pathling-timeout", "--receiver-secret", "--no-auth", "--forward-mode", "--batch-max",
            "--linger", "--max-body", "--parallel-types")
        .contains("RELAY_PORT", "RELAY_SECRET", "PATHLING_URL", "RELAY_CONFIG")
        .contains("Default: 8082", "Default: 0.0.0.0", "Default: ./data",
            "Default: http://localhost:8081/fhir", "Default: batch", "Default: 5000",
            "Default: 1s", "Default: 16MiB");
  }

  @Test
  void topLevelHelp_listsTheSubcommands_andExitsZero() throws IOException {
    Run run = execute(NO_ENV, "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("serve").contains("dead-letters");
  }

  @Test
  void topLevelHelp_doesNotListBench_andBenchIsAnUnknownCommand() throws IOException {
    // The bench is a developer's tool in the test tree (run through Maven), not part of the product.
    Run help = execute(NO_ENV, "--help");
    Run bench = execute(NO_ENV, "bench", "--rounds", "1");

    assertThat(help.out()).doesNotContain("bench");
    assertThat(bench.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(bench.err()).contains("bench");
  }

  @Test
  void unsubscribeHelp_showsOnlyWhatUnsubscribeUses() throws IOException {
    Run run = execute(NO_ENV, "unsubscribe", "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out())
        .contains("--source-url", "--source-token", "--dry-run")
        .doesNotContain("--download-concurrency", "--pathling-url", "--load");
  }

  @Test
  void verifyHelp_showsWhatVerifyUses_andItsExitCode() throws IOException {
    Run run = execute(NO_ENV, "verify", "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out())
        .contains("--source-url", "--pathling-url", "--type=", "--json", "--repair", "--data-dir")
        .doesNotContain("--download-concurrency", "--load", "--types");
    assertThat(run.out().replaceAll("\\s+", " ")).contains("Exit 0 when they match, 7 when they differ");
  }

  @Test
  void verify_refusesAMisspeltType_beforeCallingAnything() throws IOException {
    Run run = execute(NO_ENV, "verify", "--source-url", "http://127.0.0.1:9/fhir", "--type", "Patinet");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("Patinet").contains("Patient");
  }

  @Test
  void serveHelp_groupsItsOptionsUnderHeadings_andKeepsTheSynopsisShort() throws IOException {
    String help = execute(NO_ENV, "serve", "--help").out();

    assertThat(help).startsWith("Usage: pathling-relay serve [OPTIONS]" + System.lineSeparator());
    assertThat(help.lines().filter(line -> line.endsWith(":")).toList())
        .containsSubsequence("Options:", "Data dir and config file:", "Pathling:",
            "Pathling authentication (OAuth2 / SMART Backend Services):", "Catch-up from the source:",
            "Source authentication (OAuth2 / SMART Backend Services):", "TLS:");
    String tls = help.substring(help.indexOf("TLS:"));
    assertThat(tls).contains("--tls-cert", "--tls-client-ca").doesNotContain("--pathling-url");
    String pathling = help.substring(help.indexOf("Pathling:"), help.indexOf("Pathling authentication"));
    assertThat(pathling).contains("--pathling-url", "--forward-mode", "--linger").doesNotContain("--port");
  }

  @Test
  void backfillHelp_namesTheTypeOption_once() throws IOException {
    String help = execute(NO_ENV, "backfill", "--help").out();
    String subscribeHelp = execute(NO_ENV, "subscribe", "--help").out();

    assertThat(help).contains("--type=").doesNotContain("--types");
    assertThat(subscribeHelp).contains("--type=").doesNotContain("--types");
  }

  @Test
  void typesSpelling_stillWorks_onBackfillAndSync() throws IOException {
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(new String[0], NO_ENV));
    BackfillCommand backfill = (BackfillCommand) commandLine
        .parseArgs("backfill", "--source-url", "http://s/fhir", "--types", "Patient,Observation")
        .subcommand().commandSpec().userObject();

    assertThat(backfill.types).containsExactly("Patient", "Observation");
  }

  @Test
  void deadLettersHelp_listsListAndRetry_andExitsZero() throws IOException {
    Run run = execute(NO_ENV, "dead-letters", "--help");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("list").contains("retry");
  }

  @Test
  void version_printsTheProgramName_andExitsZero() throws IOException {
    Run run = execute(NO_ENV, "--version");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).startsWith("pathling-relay ");
  }

  @Test
  void version_throughMain_exitsZero() {
    Run run = runMain(NO_ENV, "--version");

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).startsWith("pathling-relay ");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void unknownOption_exitsWithUsageError() throws IOException {
    Run run = execute(NO_ENV, "serve", "--no-such-option");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("--no-such-option");
  }

  @Test
  void unknownSubcommand_exitsWithUsageError() throws IOException {
    Run run = execute(NO_ENV, "frobnicate");

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("frobnicate");
  }

  @Test
  void noSubcommand_exitsWithUsageError_andShowsTheCommands() throws IOException {
    Run run = execute(NO_ENV);

    assertThat(run.exitCode()).isEqualTo(CommandLine.ExitCode.USAGE);
    assertThat(run.err()).contains("Missing required subcommand").contains("serve").contains("dead-letters");
  }

  // ---------------------------------------------------------------------------------------------
  // regressions: an empty YAML value once became the secret "null"; huge sizes once wrapped around

  @Test
  void emptyYamlValue_countsAsUnset_notAsTheWordNull() throws IOException {
    Path file = yaml("pathling-token:\nreceiver-secret:\n");

    ServeCommand serve = parseServe(NO_ENV, "--config", file.toString());

    assertThat(serve.pathling.pathlingToken).isNull();
    assertThat(serve.receiverSecrets).isNull();
  }

  @Test
  void sizeTooLargeForALong_isRejected_notWrappedAround() {
    assertThatThrownBy(() -> parseServe(NO_ENV, "--max-body", "17179869185GiB"))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("--max-body");
  }
}
