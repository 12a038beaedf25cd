package org.pathlingrelay.source;

import java.time.Duration;
import java.util.Optional;

/** One answer from an export's status URL. */
public sealed interface ExportStatus {

  /** Still running: come back after {@code retryAfter}. */
  record InProgress(Optional<Duration> retryAfter, Optional<String> progress) implements ExportStatus {}

  /** Done: the files are listed in the manifest. */
  record Complete(ExportManifest manifest) implements ExportStatus {}
}
