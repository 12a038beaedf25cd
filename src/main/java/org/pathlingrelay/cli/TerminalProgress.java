package org.pathlingrelay.cli;

import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.pathlingrelay.backfill.BackfillProgress;

/**
 * Progress bars for a backfill run on a terminal: the export job (its {@code X-Progress}), the
 * downloads (files, with resources queued, rate and ETA), and forwarding to Pathling.
 */
final class TerminalProgress implements BackfillProgress {

  private ProgressBar export;
  private ProgressBar downloads;
  private ProgressBar forwarding;
  private final AtomicLong queued = new AtomicLong();
  private long forwardingTotal;

  /** A bar on a terminal, log lines otherwise. */
  static BackfillProgress forConsole() {
    return System.console() != null ? new TerminalProgress() : BackfillProgress.log();
  }

  private static ProgressBarBuilder bar(String task) {
    return new ProgressBarBuilder().setTaskName(task).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500);
  }

  @Override
  public synchronized void exportRunning(String progress) {
    if (export == null) {
      export = bar("Export").setInitialMax(-1).build();
    }
    export.setExtraMessage(progress);
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
    long total = queued.addAndGet(changes);
    if (downloads != null) {
      downloads.setExtraMessage(total + " resources queued");
    }
  }

  @Override
  public synchronized void forwarding(long pending) {
    closeExport();
    if (downloads != null) {
      downloads.close();
      downloads = null;
    }
    if (forwarding == null) {
      forwardingTotal = Math.max(pending, 1);
      forwarding = bar("Forward").setInitialMax(forwardingTotal).setUnit(" changes", 1).showSpeed().build();
    }
    forwarding.stepTo(forwardingTotal - Math.min(pending, forwardingTotal));
  }

  @Override
  public synchronized void finished() {
    closeExport();
    for (ProgressBar bar : new ProgressBar[] {downloads, forwarding}) {
      if (bar != null) {
        bar.close();
      }
    }
    downloads = null;
    forwarding = null;
  }

  private void closeExport() {
    if (export != null) {
      export.close();
      export = null;
    }
  }
}
