package org.pathlingrelay.datadir;

import java.nio.file.Path;

/** Where each kind of state lives in a data dir, named once. */
public final class DataDirFiles {

  private static final String OUTBOX = "relay.db";

  private DataDirFiles() {}

  /** The SQLite outbox (with its -wal and -shm beside it). */
  public static Path outbox(Path dataDir) {
    return dataDir.resolve(OUTBOX);
  }
}
