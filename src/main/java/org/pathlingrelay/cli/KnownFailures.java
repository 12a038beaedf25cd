package org.pathlingrelay.cli;

import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import java.net.UnknownHostException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.pathlingrelay.datadir.DataDirFiles;
import org.pathlingrelay.hosting.CannotListenException;
import org.pathlingrelay.source.SourceException;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * Turns the failures an operator causes and can fix (a data dir that is a file, an outbox that
 * cannot be opened, a source that cannot be reached or has no {@code $export}) into an {@link
 * OperatorMistake}: one line naming the cause and the option to change. Anything else is a bug,
 * and stays unexplained here so that its stack trace is kept.
 */
final class KnownFailures {

  /** The effective value of one of the executed command's options, by its long name. */
  interface Options extends Function<String, Optional<Object>> {}

  private static final Pattern FAILED_WITH = Pattern.compile("^(.*?) failed with (\\d{3})");

  private final Options options;

  KnownFailures(Options options) {
    this.options = options;
  }

  Optional<OperatorMistake> explain(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof OperatorMistake mistake) {
        return Optional.of(mistake);
      }
      if (cause instanceof CannotListenException listen) {
        return Optional.of(new OperatorMistake(cannotListen(listen)));
      }
      if (cause instanceof SourceException source) {
        return Optional.of(new OperatorMistake(source(source)));
      }
      if (cause instanceof FileSystemException file) {
        Optional<OperatorMistake> mistake = file(file);
        if (mistake.isPresent()) {
          return mistake;
        }
      }
      if (cause instanceof SQLiteException sqlite) {
        Optional<OperatorMistake> mistake = outbox(sqlite);
        if (mistake.isPresent()) {
          return mistake;
        }
      }
      if (cause instanceof FhirClientConnectionException
          && options.apply("--source-url").isPresent()) {
        // The commands' own HAPI clients talk only to the source (the forwarder keeps its errors).
        return Optional.of(new OperatorMistake(unreachable(cause)));
      }
    }
    return Optional.empty();
  }

  /** Jetty's own message names neither the option nor the cause in words a user knows. */
  private static String cannotListen(CannotListenException e) {
    if (e.portInUse()) {
      return "port " + e.port() + " is in use (--port / RELAY_PORT)";
    }
    if (e.permissionDenied()) {
      return "port " + e.port() + ": permission denied; ports below 1024 need privileges (--port / RELAY_PORT)";
    }
    return "cannot listen on " + e.bind() + ":" + e.port() + ": " + e.getCause().getMessage()
        + " (--bind / RELAY_BIND, --port / RELAY_PORT)";
  }

  private String source(SourceException e) {
    if (e.status() == 0) {
      return unreachable(e);
    }
    String url = text("--source-url");
    Matcher failed = FAILED_WITH.matcher(String.valueOf(e.getMessage()));
    String what = failed.find() ? failed.group(1).replaceFirst("^The ", "the ") : "a request";
    boolean kickOff = what.contains("kick-off");
    if (kickOff && (e.status() == 404 || e.status() == 405 || e.status() == 501)) {
      return "the source at " + url + " has no $export (" + what + " got " + e.status()
          + "); check --source-url / SOURCE_URL";
    }
    if (e.status() == 401 || e.status() == 403) {
      return "the source at " + url + " refused " + what + " with " + e.status()
          + "; check its credentials (--source-token / SOURCE_TOKEN, or --source-client-id / SOURCE_CLIENT_ID)";
    }
    return "the source at " + url + " failed " + what + " with " + e.status() + " (--source-url / SOURCE_URL)";
  }

  private String unreachable(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    String reason = root instanceof UnknownHostException
        ? "unknown host " + root.getMessage()
        : String.valueOf(root.getMessage()).replaceFirst("^.* failed: ", "");
    return "cannot reach the source at " + text("--source-url") + ": " + reason + " (--source-url / SOURCE_URL)";
  }

  /** A file or folder that belongs to an option: name the option. */
  private Optional<OperatorMistake> file(FileSystemException e) {
    if (e.getFile() == null) {
      return Optional.empty();
    }
    Path failed = Path.of(e.getFile()).toAbsolutePath().normalize();
    for (String option : EnvironmentDefaults.ENV_NAMES.keySet()) {
      Optional<Path> value = options.apply("--" + option)
          .filter(Path.class::isInstance)
          .map(path -> ((Path) path).toAbsolutePath().normalize());
      if (value.isPresent() && (failed.startsWith(value.get()) || value.get().startsWith(failed))) {
        return Optional.of(new OperatorMistake(
            "cannot use " + e.getFile() + ": " + reason(e) + " (" + named(option) + ")"));
      }
    }
    return Optional.empty();
  }

  private static String reason(FileSystemException e) {
    Optional<Path> file = fileOnTheWay(Path.of(e.getFile()));
    if (file.isPresent()) {
      return file.get() + " is a file, not a directory";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    return e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
  }

  /** The path itself or the first of its parents that is a plain file, where a folder must be. */
  private static Optional<Path> fileOnTheWay(Path path) {
    for (Path at = path; at != null; at = at.getParent()) {
      if (Files.isRegularFile(at)) {
        return Optional.of(at);
      }
    }
    return Optional.empty();
  }

  private Optional<OperatorMistake> outbox(SQLiteException e) {
    SQLiteErrorCode code = e.getResultCode();
    boolean operators = switch (code.code & 0xff) {
      case 3, 8, 11, 13, 14, 26 -> true; // PERM, READONLY, CORRUPT, FULL, CANTOPEN, NOTADB
      default -> false;
    };
    Optional<Object> dataDir = options.apply("--data-dir");
    if (!operators || dataDir.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new OperatorMistake("cannot open the outbox " + DataDirFiles.outbox((Path) dataDir.get())
        + ": " + code.message + " (--data-dir / RELAY_DATA_DIR)"));
  }

  private String text(String option) {
    return options.apply(option).map(String::valueOf).orElse("?");
  }

  private static String named(String option) {
    String env = EnvironmentDefaults.ENV_NAMES.get(option);
    return "--" + option + (env == null ? "" : " / " + env);
  }
}
