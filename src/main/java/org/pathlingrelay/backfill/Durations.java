package org.pathlingrelay.backfill;

import java.time.Duration;

/** Durations as a person writes them: {@code 4m30s}, {@code 12s}, {@code 1h5m}. */
final class Durations {

  private Durations() {}

  static String text(Duration duration) {
    long seconds = Math.max(0, duration.toSeconds());
    long hours = seconds / 3600;
    long minutes = seconds % 3600 / 60;
    long rest = seconds % 60;
    StringBuilder text = new StringBuilder();
    if (hours > 0) {
      text.append(hours).append('h');
    }
    if (minutes > 0) {
      text.append(minutes).append('m');
    }
    if (rest > 0 || text.length() == 0) {
      text.append(rest).append('s');
    }
    return text.toString();
  }
}
