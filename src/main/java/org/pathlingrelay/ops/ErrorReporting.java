package org.pathlingrelay.ops;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import io.sentry.Sentry;
import io.sentry.SentryOptions;
import io.sentry.logback.SentryAppender;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.LoggerFactory;

/**
 * Optional error reporting to Sentry, through its Logback integration: every ERROR log line
 * (dead letters, failed exports, a circuit open too long) becomes a Sentry event, INFO lines
 * become breadcrumbs, and everything is scrubbed first. Only called when {@code SENTRY_DSN} is
 * set: without it no Sentry code runs at all.
 */
public final class ErrorReporting implements AutoCloseable {

  private final Logger root;
  private final SentryAppender appender;

  private ErrorReporting(Logger root, SentryAppender appender) {
    this.root = root;
    this.appender = appender;
  }

  /**
   * @param customize for tests, e.g. a transport that keeps events instead of sending them
   */
  public static ErrorReporting install(
      String dsn, Optional<String> environment, Optional<String> release, Consumer<SentryOptions> customize) {
    SentryOptions options = new SentryOptions();
    options.setDsn(dsn);
    environment.ifPresent(options::setEnvironment);
    release.ifPresent(options::setRelease);
    options.setSendDefaultPii(false);
    options.setAttachStacktrace(true);
    SentryScrubber scrubber = new SentryScrubber();
    options.setBeforeSend(scrubber);
    options.setBeforeBreadcrumb(scrubber);
    customize.accept(options);

    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    SentryAppender appender = new SentryAppender();
    appender.setContext(context);
    appender.setName("SENTRY");
    appender.setOptions(options);
    appender.setMinimumEventLevel(Level.ERROR);
    appender.setMinimumBreadcrumbLevel(Level.INFO);
    appender.start();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.addAppender(appender);
    return new ErrorReporting(root, appender);
  }

  @Override
  public void close() {
    root.detachAppender(appender);
    appender.stop();
    Sentry.close();
  }
}
