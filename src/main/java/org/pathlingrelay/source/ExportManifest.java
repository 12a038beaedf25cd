package org.pathlingrelay.source;

import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A completed export's manifest, as the Bulk Data IG describes it and as real servers send it
 * (HAPI: no {@code count}, an extra {@code message}, served as ISO-8859-1).
 */
public record ExportManifest(
    Instant transactionTime,
    String request,
    boolean requiresAccessToken,
    List<ExportFile> output,
    List<ExportFile> error,
    List<ExportFile> deleted,
    Optional<String> message) {

  public ExportManifest {
    output = List.copyOf(output);
    error = List.copyOf(error);
    deleted = List.copyOf(deleted);
  }

  /** One file of the export; {@code count} is optional in the IG and absent from HAPI's. */
  public record ExportFile(String type, URI url, Optional<Long> count) {}
}
