package org.pathlingrelay.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * A usage error prints its message and where the help is, not the help itself: a screenful of
 * options after the message hides it. Only a command that does nothing by itself (no subcommand
 * given) shows its usage, which is then the short list of its subcommands.
 */
final class ShortUsageErrors implements IParameterExceptionHandler {

  private final CommandHint hint;

  ShortUsageErrors(CommandHint hint) {
    this.hint = hint;
  }

  @Override
  public int handleParseException(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    PrintWriter err = command.getErr();
    err.println("pathling-relay: " + e.getMessage());
    UnmatchedArgumentException.printSuggestions(e, err);
    if (command.getCommandSpec().userObject() instanceof Callable<?>) {
      err.println("see: " + hint.command(helpWords(command)));
    } else {
      command.usage(err);
    }
    err.flush();
    return command.getCommandSpec().exitCodeOnInvalidInput();
  }

  /** {@code dead-letters retry --help}: the subcommand's words without the program's name. */
  private static List<String> helpWords(CommandLine command) {
    List<String> words = new ArrayList<>(
        Arrays.asList(command.getCommandSpec().qualifiedName().split(" ")));
    words.remove(0);
    words.add("--help");
    return words;
  }
}
