package org.pathlingrelay.cli;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.Layout;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import java.util.Optional;
import org.slf4j.LoggerFactory;

/**
 * While progress bars are on the terminal, the console's log lines go through the {@link BarLine}
 * (formatted as the console appender formats them) instead of straight to the terminal.
 */
final class LogAboveBar extends AppenderBase<ILoggingEvent> implements AutoCloseable {

  private final BarLine bar;
  private final Layout<ILoggingEvent> layout;
  private final Logger root;
  private final Appender<ILoggingEvent> console;

  private LogAboveBar(BarLine bar, Layout<ILoggingEvent> layout, Logger root, Appender<ILoggingEvent> console) {
    this.bar = bar;
    this.layout = layout;
    this.root = root;
    this.console = console;
  }

  /**
   * Takes the place of the root logger's console appender (as {@code logback.xml} names it) until
   * closed. Empty when logging is configured otherwise: the log then goes where it was configured.
   */
  static Optional<LogAboveBar> install(BarLine bar, String consoleAppender) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return Optional.empty();
    }
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    if (!(root.getAppender(consoleAppender) instanceof OutputStreamAppender<ILoggingEvent> console)
        || !(console.getEncoder() instanceof LayoutWrappingEncoder<ILoggingEvent> encoder)) {
      return Optional.empty();
    }
    LogAboveBar above = new LogAboveBar(bar, encoder.getLayout(), root, console);
    above.setContext(context);
    above.setName(consoleAppender + "-above-bar");
    above.start();
    root.addAppender(above);
    root.detachAppender(console);
    return Optional.of(above);
  }

  @Override
  protected void append(ILoggingEvent event) {
    bar.printAbove(layout.doLayout(event));
  }

  /** The console appender back in its place. */
  @Override
  public void close() {
    root.addAppender(console);
    root.detachAppender(this);
    stop();
  }
}
