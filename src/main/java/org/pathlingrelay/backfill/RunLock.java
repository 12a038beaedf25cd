package org.pathlingrelay.backfill;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One backfill, sync or catch-up at a time per data dir, across processes: two would export the
 * same data twice and overwrite each other's journal. An OS file lock, gone with the process.
 */
final class RunLock implements AutoCloseable {

  private final FileChannel channel;
  private final FileLock lock;

  private RunLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  static RunLock acquire(Path dataDir) {
    try {
      Files.createDirectories(dataDir);
      FileChannel channel =
          FileChannel.open(dataDir.resolve("backfill.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException sameProcess) {
        lock = null;
      }
      if (lock == null) {
        channel.close();
        throw new BackfillBusyException(
            "another backfill, sync or catch-up is running on " + dataDir.toAbsolutePath()
                + "; wait for it to finish (a serve's catch-up shows under catchUp in /status)");
      }
      return new RunLock(channel, lock);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot lock " + dataDir.resolve("backfill.lock"), e);
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      // the lock goes with the channel, and the channel with the process
    }
  }
}
