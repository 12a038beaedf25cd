package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A backfill's bars as a terminal shows them: log lines on lines of their own, totals that add up. */
class TerminalProgressTest {

  private final ByteArrayOutputStream written = new ByteArrayOutputStream();
  private final PrintStream terminal = new PrintStream(written, true, StandardCharsets.UTF_8);
  private final BarLine line = new BarLine(terminal, 120);
  private final Logger log = (Logger) LoggerFactory.getLogger("org.pathlingrelay.backfill.Backfill");
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final OutputStreamAppender<ILoggingEvent> console = new OutputStreamAppender<>();

  /** A console appender like logback.xml's, writing to the same terminal as the bars. */
  @BeforeEach
  void consoleOnTheTerminal() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern("%-5level %logger{0} - %msg%n");
    encoder.start();
    console.setContext(context);
    console.setName("TEST-CONSOLE");
    console.setEncoder(encoder);
    console.setOutputStream(terminal);
    console.start();
    root.addAppender(console);
  }

  @AfterEach
  void removeConsole() {
    root.detachAppender("TEST-CONSOLE");
    root.detachAppender("TEST-CONSOLE-above-bar");
  }

  private String shown() {
    return written.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aLogLineWhileABarIsDrawn_getsALineOfItsOwn_andTheBarIsDrawnAgainBelowIt() {
    TerminalProgress progress = new TerminalProgress(line, 50);
    java.util.Optional<LogAboveBar> above = LogAboveBar.install(line, "TEST-CONSOLE");
    assertThat(above).isPresent();
    progress.downloadsStarted(2);
    progress.queued(3_580);
    progress.fileDone();
    await().atMost(Duration.ofSeconds(5)).until(() -> shown().contains("Download"));

    log.warn("Pathling at http://127.0.0.1:1/fhir is not taking changes: Connection refused");
    progress.queued(3_580);
    progress.fileDone();
    progress.forwarding(0);
    progress.finished();
    above.get().close();
    log.info("after the bars");

    List<String> screen = screen(shown());
    assertThat(screen).contains("WARN  Backfill - Pathling at http://127.0.0.1:1/fhir is not taking changes: Connection refused");
    assertThat(screen).last().isEqualTo("INFO  Backfill - after the bars");
    assertThat(screen).filteredOn(row -> row.startsWith("Download")).singleElement().asString()
        .contains("2/2").containsPattern("files/s 7160 resources queued");
  }

  @Test
  void theForwardBar_countsWhatTheRunQueued_withWhatWasForwardedDuringTheDownloadsDoneAtOnce() {
    TerminalProgress progress = new TerminalProgress(line, 50);
    progress.downloadsStarted(1);
    progress.queued(7_160);
    progress.fileDone();
    progress.forwarding(3_000);
    progress.forwarding(0);
    progress.finished();

    assertThat(screen(shown())).filteredOn(row -> row.startsWith("Forward")).singleElement().asString()
        .contains("100%").contains("7160/7160");
  }

  @Test
  void theForwardBar_saysSo_whenTheOutboxHeldMoreThanTheRunQueued() {
    TerminalProgress progress = new TerminalProgress(line, 50);
    progress.downloadsStarted(1);
    progress.queued(100);
    progress.fileDone();
    progress.forwarding(250);
    progress.forwarding(0);
    progress.finished();

    assertThat(screen(shown())).filteredOn(row -> row.startsWith("Forward")).singleElement().asString()
        .contains("250/250").contains("(100 queued by this run, 150 already in the outbox)");
  }

  /** What a terminal shows for this output: carriage return, erase to end of line, line feed. */
  static List<String> screen(String output) {
    List<String> rows = new ArrayList<>();
    StringBuilder row = new StringBuilder();
    int column = 0;
    for (int i = 0; i < output.length(); i++) {
      char c = output.charAt(i);
      if (c == '\r') {
        column = 0;
      } else if (c == '\n') {
        rows.add(row.toString());
        row.setLength(0);
        column = 0;
      } else if (c == '\u001b' && output.startsWith("[K", i + 1)) {
        row.setLength(column);
        i += 2;
      } else {
        if (column < row.length()) {
          row.setCharAt(column, c);
        } else {
          row.append(c);
        }
        column++;
      }
    }
    if (!row.isEmpty()) {
      rows.add(row.toString());
    }
    return rows.stream().map(String::stripTrailing).toList();
  }
}
