package org.pathlingrelay.cli;

import picocli.CommandLine;

/**
 * A mistake the operator can fix (a busy port, a wrong URL, an unknown config key): the command
 * line prints its message as one line, with no stack trace, and exits with its code. The message
 * names the cause and the option (and environment variable) to change.
 */
final class OperatorMistake extends RuntimeException {

  private final int exitCode;

  OperatorMistake(String message) {
    this(message, CommandLine.ExitCode.SOFTWARE);
  }

  OperatorMistake(String message, int exitCode) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
