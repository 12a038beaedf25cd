package org.pathlingrelay.backfill;

import java.io.IOException;
import java.io.Writer;

/**
 * Where {@code --load import} puts NDJSON files for Pathling to read: a folder Pathling shares,
 * or an S3 bucket. Paths are relative ({@code export-xyz/Patient.0001.ndjson}); a file becomes
 * visible only when its writer commits, so a crash never leaves half a file to be imported.
 */
public interface StagingArea {

  /** A file being written; nothing is visible until {@link #commit()}. */
  interface StagedFile extends AutoCloseable {
    Writer writer();

    void commit() throws IOException;

    /** Without a commit, discards what was written. */
    @Override
    void close() throws IOException;
  }

  StagedFile create(String path) throws IOException;

  /** Makes {@code to} hold the same content as {@code from} (a hard link, or a server-side copy). */
  void copy(String from, String to) throws IOException;

  /** The URL Pathling reads {@code path} at ({@code file://...}, {@code s3a://...}). */
  String urlFor(String path);

  /** Cleans up after a run that was killed mid-upload; called once before staging starts. */
  default void abortUnfinished() throws IOException {}

  /** Removes everything under {@code folder}. */
  void deleteFolder(String folder) throws IOException;
}
