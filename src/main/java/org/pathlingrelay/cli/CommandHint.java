package org.pathlingrelay.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A command line a user can paste to follow a printed hint: the way this process was launched
 * ({@code java -jar /abs/pathling-relay.jar}), the subcommand, and the options of the current run
 * that the subcommand needs (a hint that drops {@code --data-dir} looks at the wrong outbox).
 *
 * @param launcher how to start the relay again, e.g. {@code java -jar /app/pathling-relay.jar}
 */
record CommandHint(String launcher) {

  /** The launcher of this process: the jar it runs from, else the class path and main class. */
  static CommandHint ofThisProcess() {
    try {
      Path location = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isRegularFile(location)) {
        return new CommandHint("java -jar " + quote(location.toAbsolutePath().toString()));
      }
    } catch (Exception e) {
      // not a file location (a test class path, an unusual class loader): fall through
    }
    return new CommandHint(
        "java -cp " + quote(System.getProperty("java.class.path", ".")) + " " + Main.class.getName());
  }

  /**
   * The full command: launcher, words, then each option and value pair (a null value is left out,
   * so the caller can pass an option that was not set).
   */
  String command(List<String> words, String... optionsAndValues) {
    List<String> parts = new ArrayList<>();
    parts.add(launcher);
    words.forEach(word -> parts.add(quote(word)));
    for (int i = 0; i + 1 < optionsAndValues.length; i += 2) {
      if (optionsAndValues[i + 1] != null) {
        parts.add(optionsAndValues[i]);
        parts.add(quote(optionsAndValues[i + 1]));
      }
    }
    return String.join(" ", parts);
  }

  /** Single quotes for a POSIX shell, only where a word needs them. */
  static String quote(String word) {
    if (!word.isEmpty() && word.matches("[A-Za-z0-9_./:=@%+,-]+")) {
      return word;
    }
    return "'" + word.replace("'", "'\\''") + "'";
  }
}
