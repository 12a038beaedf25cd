package org.pathlingrelay.cli;

import java.io.IOException;
import picocli.CommandLine;

/** Entry point of {@code pathling-relay}; the only place that exits the JVM. */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.getenv()));
  }

  static int run(String[] args, java.util.Map<String, String> environment) {
    EnvironmentDefaults defaults;
    try {
      defaults = EnvironmentDefaults.from(args, environment);
    } catch (IOException e) {
      System.err.println("pathling-relay: " + e.getMessage());
      return CommandLine.ExitCode.USAGE;
    }
    String dsn = environment.get("SENTRY_DSN");
    if (dsn == null || dsn.isBlank()) {
      return commandLine(defaults).execute(args);
    }
    try (org.pathlingrelay.ops.ErrorReporting reporting = org.pathlingrelay.ops.ErrorReporting.install(
        dsn,
        java.util.Optional.ofNullable(environment.get("SENTRY_ENVIRONMENT")),
        java.util.Optional.ofNullable(environment.get("SENTRY_RELEASE")),
        options -> {})) {
      return commandLine(defaults).execute(args);
    }
  }

  static CommandLine commandLine(EnvironmentDefaults defaults) {
    CommandLine commandLine = new CommandLine(new RelayCommand());
    commandLine.setDefaultValueProvider(defaults);
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    commandLine.registerConverter(java.time.Duration.class, new DurationConverter());
    commandLine.registerConverter(java.time.Instant.class, new InstantConverter());
    commandLine.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof OperatorMistake mistake) {
        line.getErr().println("pathling-relay: " + mistake.getMessage());
        line.getErr().flush();
        return mistake.exitCode();
      }
      throw e;
    });
    return commandLine;
  }
}
