package org.pathlingrelay.forward;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.pathlingrelay.datadir.DataDirLock;

/**
 * At most one forwarder per data dir: two would send overlapping writes of one type to Pathling,
 * which fails them.
 */
public final class ForwarderLock implements AutoCloseable {

  private final DataDirLock lock;

  private ForwarderLock(DataDirLock lock) {
    this.lock = lock;
  }

  /** Empty when another process (or this one) already forwards from this data dir. */
  public static Optional<ForwarderLock> tryAcquire(Path dataDir) throws IOException {
    return DataDirLock.tryAcquire(dataDir, "forwarder.lock").map(ForwarderLock::new);
  }

  @Override
  public void close() throws IOException {
    lock.close();
  }
}
