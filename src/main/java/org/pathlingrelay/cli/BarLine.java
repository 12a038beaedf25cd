package org.pathlingrelay.cli;

import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;

/**
 * The terminal line a progress bar is drawn on, shared with log lines. Written straight to the
 * terminal, a log line would start after the bar's text and the next redraw would land on it; here
 * it clears the bar's line, is printed there, and the bar is drawn again below it.
 */
final class BarLine extends ConsoleProgressBarConsumer {

  private static final String CLEAR_LINE = "\r\u001b[K";

  private final PrintStream out;
  private String drawn = "";

  BarLine(PrintStream out) {
    super(out);
    this.out = out;
  }

  BarLine(PrintStream out, int width) {
    super(out, width);
    this.out = out;
  }

  @Override
  public synchronized void accept(String rendered) {
    int width = getMaxRenderedLength();
    drawn = rendered.length() > width ? rendered.substring(0, width) : rendered;
    out.print(CLEAR_LINE + drawn);
    out.flush();
  }

  /** A log line (with or without its line break), above the bar. */
  synchronized void printAbove(String line) {
    out.print(CLEAR_LINE + line + (line.endsWith("\n") ? "" : "\n") + drawn);
    out.flush();
  }

  /** The bar is done: its last state stays on screen, and what follows starts on a line of its own. */
  @Override
  public synchronized void close() {
    if (!drawn.isEmpty()) {
      out.println();
      drawn = "";
    }
    out.flush();
  }
}
