package org.pathlingrelay.cli;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.pathlingrelay.auth.ClientAuthentication;
import org.pathlingrelay.backfill.LoadMode;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.ops.ErrorReporting;
import org.pathlingrelay.verify.ListingChoice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/** Entry point of {@code pathling-relay}; the only place that exits the JVM. */
public final class Main {

  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.getenv()));
  }

  static int run(String[] args, Map<String, String> environment) {
    EnvironmentDefaults defaults;
    try {
      defaults = EnvironmentDefaults.from(args, environment);
    } catch (IOException e) {
      System.err.println("pathling-relay: " + e.getMessage());
      return CommandLine.ExitCode.USAGE;
    }
    CommandLine commandLine = commandLine(defaults);
    Optional<String> unknownKey = defaults.unknownKey(longOptionNames(commandLine));
    if (unknownKey.isPresent()) {
      System.err.println("pathling-relay: " + unknownKey.get());
      return CommandLine.ExitCode.USAGE;
    }
    String dsn = environment.get("SENTRY_DSN");
    if (dsn == null || dsn.isBlank()) {
      return commandLine.execute(args);
    }
    try (ErrorReporting reporting = ErrorReporting.install(
        dsn,
        Optional.ofNullable(environment.get("SENTRY_ENVIRONMENT")),
        Optional.ofNullable(environment.get("SENTRY_RELEASE")),
        options -> {})) {
      return commandLine.execute(args);
    }
  }

  /** Every command's long option names without their dashes: the keys a config file may use. */
  static Set<String> longOptionNames(CommandLine root) {
    Set<String> names = new TreeSet<>();
    Deque<CommandLine> commands = new ArrayDeque<>(List.of(root));
    while (!commands.isEmpty()) {
      CommandLine command = commands.pop();
      command.getCommandSpec().options().forEach(option -> EnvironmentDefaults.keys(option).forEach(names::add));
      commands.addAll(command.getSubcommands().values());
    }
    return names;
  }

  static CommandLine commandLine(EnvironmentDefaults defaults) {
    CommandLine commandLine = new CommandLine(new RelayCommand());
    commandLine.setDefaultValueProvider(defaults);
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    commandLine.registerConverter(Duration.class, new DurationConverter());
    commandLine.registerConverter(Instant.class, new InstantConverter());
    commandLine.registerConverter(ForwardMode.class, new LowerCaseEnumConverter<>(ForwardMode.class));
    commandLine.registerConverter(LoadMode.class, new LowerCaseEnumConverter<>(LoadMode.class));
    commandLine.registerConverter(ListingChoice.Mode.class, new LowerCaseEnumConverter<>(ListingChoice.Mode.class));
    commandLine.registerConverter(ClientAuthentication.SecretMethod.class,
        new LowerCaseEnumConverter<>(ClientAuthentication.SecretMethod.class));
    // Wide enough that examples and URLs in descriptions stay on one line.
    commandLine.setUsageHelpWidth(110);
    Deque<CommandLine> commands = new ArrayDeque<>(List.of(commandLine));
    while (!commands.isEmpty()) {
      CommandLine command = commands.pop();
      command.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_OPTION_LIST,
          new SectionedOptionList());
      // "[OPTIONS]": the sections below list them, by concern; 60 names in the synopsis hide the command.
      command.getCommandSpec().usageMessage().abbreviateSynopsis(true).commandListHeading("%nCommands:%n");
      commands.addAll(command.getSubcommands().values());
    }
    commandLine.setParameterExceptionHandler(new ShortUsageErrors(CommandHint.ofThisProcess()));
    commandLine.setExecutionExceptionHandler((e, line, parsed) -> {
      CommandLine.Model.CommandSpec spec = line.getCommandSpec();
      KnownFailures known = new KnownFailures(
          name -> Optional.ofNullable(spec.findOption(name)).map(option -> option.getValue()));
      Optional<OperatorMistake> mistake = known.explain(e);
      if (mistake.isPresent()) {
        line.getErr().println("pathling-relay: " + mistake.get().getMessage());
        line.getErr().flush();
        return mistake.get().exitCode();
      }
      // Not the operator's doing, so a bug: its stack trace goes to the log, once.
      log.error("Stopped by an unexpected error; please report it with this stack trace", e);
      line.getErr().println("pathling-relay: unexpected error: " + e.toString().lines().findFirst().orElse("")
          + " (a bug: the stack trace is in the log)");
      line.getErr().flush();
      return CommandLine.ExitCode.SOFTWARE;
    });
    return commandLine;
  }
}
