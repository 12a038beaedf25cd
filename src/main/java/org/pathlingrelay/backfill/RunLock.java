package org.pathlingrelay.backfill;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.pathlingrelay.datadir.DataDirLock;

/**
 * One backfill, sync or catch-up at a time per data dir, across processes: two would export the
 * same data twice and overwrite each other's journal.
 */
final class RunLock implements AutoCloseable {

  private static final String FILE = "backfill.lock";

  private final DataDirLock lock;

  private RunLock(DataDirLock lock) {
    this.lock = lock;
  }

  /** @throws BackfillBusyException when another run holds the data dir */
  static RunLock acquire(Path dataDir) {
    try {
      return new RunLock(DataDirLock.tryAcquire(dataDir, FILE).orElseThrow(() -> new BackfillBusyException(
          "another backfill, sync or catch-up is running on " + dataDir.toAbsolutePath()
              + "; wait for it to finish (a serve's catch-up shows under catchUp in /status)")));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock " + dataDir.resolve(FILE), e);
    }
  }

  @Override
  public void close() {
    try {
      lock.close();
    } catch (IOException e) {
      // the lock goes with the channel, and the channel with the process
    }
  }
}
