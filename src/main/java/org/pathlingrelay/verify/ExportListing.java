package org.pathlingrelay.verify;

import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.source.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bulk {@code $export} of every type a check lists by export: kicked off before the check
 * starts, so the source works on it while other types are searched; its manifest awaited when the
 * first such type is compared; each type's files streamed into the store then. Closing it lets
 * the source delete the files.
 */
final class ExportListing implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Verifier.class);
  /** All a listing needs of a resource; the IG lets a server ignore it (HAPI 8.8.0 does). */
  static final List<String> ELEMENTS = List.of("id", "meta");
  private static final int FILE_ATTEMPTS = 5;

  private final BulkExportClient client;
  private final URI statusUrl;
  private final Retry fileRetry;
  private final boolean logProgress;
  private ExportManifest manifest;

  private ExportListing(BulkExportClient client, URI statusUrl, boolean logProgress) {
    this.client = client;
    this.statusUrl = statusUrl;
    this.logProgress = logProgress;
    // A download cut off halfway is read again from its start: the store keeps one row an id.
    Duration first = client.initialBackoff().multipliedBy(2);
    this.fileRetry = Retry.of("verify-export-files", RetryConfig.custom()
        .maxAttempts(FILE_ATTEMPTS)
        .intervalFunction(IntervalFunction.ofExponentialBackoff(first, 2.0, first.multipliedBy(16)))
        .retryOnException(failure -> failure instanceof IOException
            || failure instanceof SourceException source && source.isTransient())
        .build());
  }

  /**
   * Kicks off {@code $export?_type=<types>&_elements=id,meta}; again without {@code _elements}
   * when the source refuses it (whole resources then: only their id and meta are read).
   */
  static ExportListing start(BulkExportClient client, List<String> types, boolean logProgress) {
    ExportRequest request = ExportRequest.system(types, Optional.empty());
    URI statusUrl;
    try {
      statusUrl = client.kickOff(request.withElements(ELEMENTS));
    } catch (SourceException refused) {
      if (!refusedParameter(refused)) {
        throw refused;
      }
      log.warn("The source refused _elements={} on $export ({}); exporting whole resources, of which only id and"
          + " meta are read", String.join(",", ELEMENTS), refused.getMessage());
      statusUrl = client.kickOff(request);
    }
    log.info("Listing {} from the source by export; polling {}", String.join(", ", types), statusUrl);
    return new ExportListing(client, statusUrl, logProgress);
  }

  /** A 4xx that is about the request, not about access or load. */
  private static boolean refusedParameter(SourceException failure) {
    int status = failure.status();
    return status == 400 || status == 422 || status == 501;
  }

  /** The export's transaction time: what changed after it is not in the export. */
  Instant transactionTime() throws InterruptedException {
    return manifest().transactionTime();
  }

  /** Streams every output file of {@code type} into {@code sink}; returns the rows read. */
  long list(String type, ExportRows rows, RowSink sink) throws InterruptedException {
    ExportManifest done = manifest();
    long read = 0;
    for (ExportFile file : done.output()) {
      if (type.equals(file.type())) {
        read += read(file, done.requiresAccessToken(), rows, sink);
      }
    }
    return read;
  }

  private long read(ExportFile file, boolean requiresToken, ExportRows rows, RowSink sink) {
    try {
      return fileRetry.executeCallable(() -> {
        try (InputStream in = client.download(file.url(), requiresToken)) {
          return rows.read(in, sink);
        }
      });
    } catch (SQLException e) {
      throw new IllegalStateException("cannot write the comparison's scratch file: " + e.getMessage(), e);
    } catch (IOException | SourceException e) {
      throw new SourceException("Reading the export's " + file.url() + " failed: " + e.getMessage(), 0, false, null, e);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private ExportManifest manifest() throws InterruptedException {
    if (manifest == null) {
      ExportManifest done = client.awaitManifest(statusUrl, progress -> {
        if (logProgress) {
          log.info("Source export: {}", progress);
        }
      });
      if (!done.error().isEmpty()) {
        // Some resources could not be exported: they would count as extra in Pathling, and a
        // repair would delete them there.
        throw new SourceException("The source's export reported " + done.error().size() + " error file(s), so it"
            + " does not list everything; list by search instead (--source-listing search)", 0, false, null, null);
      }
      manifest = done;
    }
    return manifest;
  }

  /** Lets the source delete the export (HAPI keeps its files for two hours otherwise). */
  @Override
  public void close() {
    try {
      client.cancel(statusUrl);
    } catch (RuntimeException e) {
      log.debug("Could not release the export at {}: {}", statusUrl, e.getMessage());
    }
  }
}
