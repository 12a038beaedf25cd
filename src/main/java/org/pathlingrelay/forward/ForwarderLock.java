package org.pathlingrelay.forward;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * At most one forwarder per data dir: two would send overlapping writes of one type to Pathling,
 * which fails them. The lock is an OS file lock, so it goes away with the process, even on
 * SIGKILL.
 */
public final class ForwarderLock implements AutoCloseable {

  private final FileChannel channel;
  private final FileLock lock;

  private ForwarderLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Empty when another process (or this one) already forwards from this data dir. */
  public static Optional<ForwarderLock> tryAcquire(Path dataDir) throws IOException {
    Files.createDirectories(dataDir);
    FileChannel channel =
        FileChannel.open(dataDir.resolve("forwarder.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    try {
      FileLock lock = channel.tryLock();
      if (lock == null) {
        channel.close();
        return Optional.empty();
      }
      return Optional.of(new ForwarderLock(channel, lock));
    } catch (OverlappingFileLockException e) {
      channel.close();
      return Optional.empty();
    }
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
