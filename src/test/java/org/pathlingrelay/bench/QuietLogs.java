package org.pathlingrelay.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Turns the relay's per-request log lines down while the bench runs in this process (they would
 * bury the table), and back when closed. Does nothing when logback is not the logging backend.
 */
final class QuietLogs implements AutoCloseable {

  private final Map<Logger, Level> previous = new LinkedHashMap<>();

  QuietLogs(Map<String, Level> levels) {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      levels.forEach((name, level) -> {
        Logger logger = context.getLogger(name);
        previous.put(logger, logger.getLevel());
        logger.setLevel(level);
      });
    }
  }

  static QuietLogs duringBench() {
    return new QuietLogs(Map.of("org.pathlingrelay", Level.ERROR, "org.apache.http", Level.WARN));
  }

  @Override
  public void close() {
    previous.forEach(Logger::setLevel);
  }
}
