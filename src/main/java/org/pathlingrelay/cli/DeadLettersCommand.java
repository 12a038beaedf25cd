package org.pathlingrelay.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.pathlingrelay.datadir.DataDirFiles;
import org.pathlingrelay.outbox.DeadLetter;
import org.pathlingrelay.outbox.Outbox;
import org.pathlingrelay.outbox.ResourceKey;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pathling-relay dead-letters list|retry}: inspect and replay what Pathling refused. */
@Command(
    name = "dead-letters",
    mixinStandardHelpOptions = true,
    description = "List or replay the changes Pathling refused.",
    subcommands = {DeadLettersCommand.ListCommand.class, DeadLettersCommand.RetryCommand.class})
final class DeadLettersCommand {

  /** A mistyped data dir must not quietly create an empty outbox and report nothing wrong. */
  static Outbox openExisting(CommandSpec spec, CommonOptions common) throws Exception {
    Path file = DataDirFiles.outbox(common.dataDir);
    if (!Files.isRegularFile(file)) {
      throw new ParameterException(
          spec.commandLine(), "no outbox at " + file.toAbsolutePath() + "; check --data-dir");
    }
    return Outbox.open(file, Clock.systemUTC());
  }

  /** A command that lists the dead letters of this data dir, as this process was launched. */
  static String listHint(CommonOptions common) {
    return CommandHint.ofThisProcess().command(
        List.of("dead-letters", "list"), "--data-dir", common.dataDir.toString());
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Show dead letters, oldest failure first.")
  static final class ListCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;

    @Option(names = "--limit", defaultValue = "100", description = "Most rows to show. Default: ${DEFAULT-VALUE}")
    int limit;

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (Outbox outbox = openExisting(spec, common)) {
        List<DeadLetter> letters = outbox.list(limit);
        if (letters.isEmpty()) {
          out.println("No dead letters.");
          return 0;
        }
        out.printf("%-50s %-7s %-6s %-8s %-24s %s%n", "RESOURCE", "OP", "STATUS", "ATTEMPTS", "LAST FAILED", "REASON");
        for (DeadLetter letter : letters) {
          out.printf(
              "%-50s %-7s %-6d %-8d %-24s %s%n",
              letter.change().key(),
              letter.change().operation().name().toLowerCase(),
              letter.status(),
              letter.attempts(),
              letter.lastFailedAt(),
              oneLine(letter.reason()));
        }
        out.flush();
        return 0;
      }
    }

    private static String oneLine(String reason) {
      if (reason == null) {
        return "";
      }
      String flat = reason.replaceAll("\\s+", " ");
      return flat.length() > 300 ? flat.substring(0, 300) + "..." : flat;
    }
  }

  @Command(name = "retry", mixinStandardHelpOptions = true, description = "Put dead letters back into the queue (newest version still wins).")
  static final class RetryCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin CommonOptions common;

    @ArgGroup(multiplicity = "1")
    Target target;

    static final class Target {
      @Option(names = "--all", required = true, description = "Retry every dead letter.")
      boolean all;

      @Parameters(paramLabel = "Type/id", description = "The one resource to retry.")
      String resource;
    }

    @Override
    public Integer call() throws Exception {
      Optional<ResourceKey> key = Optional.empty();
      if (!target.all) {
        String[] parts = target.resource.split("/", -1);
        if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
          throw new ParameterException(spec.commandLine(), "name the resource as Type/id, e.g. Patient/123");
        }
        key = Optional.of(new ResourceKey(parts[0], parts[1]));
      }
      try (Outbox outbox = openExisting(spec, common)) {
        int moved = outbox.retry(key);
        if (moved == 0 && key.isPresent()) {
          PrintWriter err = spec.commandLine().getErr();
          err.println("pathling-relay: no dead letter " + key.get() + " in " + DataDirFiles.outbox(common.dataDir)
              + "; the ones there: " + listHint(common));
          err.flush();
          return 1;
        }
        spec.commandLine().getOut().println(
            "Moved " + moved + " dead letter(s) back into the queue; a running relay forwards them shortly.");
        spec.commandLine().getOut().flush();
        return 0;
      }
    }
  }
}
