package org.pathlingrelay.cli;

import java.io.PrintStream;
import java.util.Optional;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.pathlingrelay.backfill.BackfillProgress;

/**
 * Progress bars for a backfill run on a terminal: the export job (its {@code X-Progress}), the
 * downloads (files, with resources queued, rate and ETA), and forwarding to Pathling. One bar at a
 * time, on one line that log lines are printed above (see {@link BarLine}).
 */
final class TerminalProgress implements BackfillProgress {

  private final BarLine line;
  private final int updateMillis;
  private Optional<LogAboveBar> log = Optional.empty();
  private ProgressBar export;
  private ProgressBar downloads;
  private ProgressBar forwarding;
  private long queued;
  private long forwardingTotal;

  TerminalProgress(BarLine line, int updateMillis) {
    this.line = line;
    this.updateMillis = updateMillis;
  }

  /** Bars on a terminal (the console's log lines printed above them), log lines otherwise. */
  static BackfillProgress forConsole() {
    if (System.console() == null) {
      return BackfillProgress.log();
    }
    TerminalProgress progress = new TerminalProgress(new BarLine(System.out), 500);
    progress.log = LogAboveBar.install(progress.line, "STDOUT");
    return progress;
  }

  private ProgressBarBuilder bar(String task) {
    return new ProgressBarBuilder().setTaskName(task).setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(updateMillis).setConsumer(line);
  }

  @Override
  public synchronized void exportRunning(String progress) {
    if (export == null) {
      export = bar("Export").setInitialMax(-1).build();
    }
    export.setExtraMessage(" " + progress);
  }

  @Override
  public synchronized void downloadsStarted(int files) {
    closeExport();
    downloads = bar("Download").setInitialMax(files).setUnit(" files", 1).showSpeed().build();
  }

  @Override
  public synchronized void fileDone() {
    if (downloads != null) {
      downloads.step();
    }
  }

  @Override
  public synchronized void queued(long changes) {
    queued += changes;
    if (downloads != null) {
      // The library writes the extra message right after the rate: give it its own space.
      downloads.setExtraMessage(" " + queued + " resources queued");
    }
  }

  /**
   * The bar counts what this run queued; what was forwarded while the files downloaded shows as
   * done at once. When the outbox holds more (a resumed run's earlier lines, live changes), the
   * bar counts that too and says so.
   */
  @Override
  public synchronized void forwarding(long pending) {
    closeExport();
    if (downloads != null) {
      close(downloads);
      downloads = null;
    }
    if (forwarding == null) {
      forwardingTotal = Math.max(Math.max(pending, queued), 1);
      forwarding = bar("Forward").setInitialMax(forwardingTotal).setUnit(" changes", 1).showSpeed().build();
      if (pending > queued) {
        forwarding.setExtraMessage(" (" + queued + " queued by this run, " + (pending - queued)
            + " already in the outbox)");
      }
    }
    forwarding.stepTo(forwardingTotal - Math.min(pending, forwardingTotal));
  }

  @Override
  public synchronized void forwardingStalled(String problem) {
    if (log.isEmpty()) {
      // Without the console log above the bar, the reason would go unseen behind it.
      line.printAbove(problem);
    }
  }

  /** Idempotent: also called when a run ends early, to put the console log back. */
  @Override
  public synchronized void finished() {
    closeExport();
    for (ProgressBar bar : new ProgressBar[] {downloads, forwarding}) {
      if (bar != null) {
        close(bar);
      }
    }
    downloads = null;
    forwarding = null;
    log.ifPresent(LogAboveBar::close);
    log = Optional.empty();
  }

  private void closeExport() {
    if (export != null) {
      close(export);
      export = null;
    }
  }

  /** A bar closed before its first scheduled redraw is drawn but never ends its line: end it here. */
  private void close(ProgressBar bar) {
    bar.close();
    line.close();
  }
}
