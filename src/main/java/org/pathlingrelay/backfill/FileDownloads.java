package org.pathlingrelay.backfill;

import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportManifest.ExportFile;
import org.pathlingrelay.source.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads an export's files, downloading a file again when its stream breaks off: the source
 * client retries each request, but not a download cut halfway through the body. Retries back off
 * from twice the client's first back-off, and count in the run's {@link RetryRegistry} as
 * {@value #RETRY}.
 */
final class FileDownloads {

  // Logs as Backfill: an operator follows a run under one name.
  private static final Logger log = LoggerFactory.getLogger(Backfill.class);
  static final String RETRY = "source-files";
  private static final int ATTEMPTS = 5;

  /** Reads one attempt's stream (closed afterwards by the caller); throws IOException when it breaks off. */
  @FunctionalInterface
  interface Reader<T> {
    T read(InputStream in) throws IOException;
  }

  private final BulkExportClient source;
  private final Retry retry;

  FileDownloads(BulkExportClient source, RetryRegistry retries) {
    this.source = source;
    Duration first = source.initialBackoff().multipliedBy(2);
    this.retry = retries.retry(RETRY, RetryConfig.custom()
        .maxAttempts(ATTEMPTS)
        .intervalFunction(IntervalFunction.ofExponentialBackoff(first, 2.0, first.multipliedBy(16)))
        .retryOnException(FileDownloads::retriable)
        .build());
  }

  private static boolean retriable(Throwable failure) {
    return failure instanceof IOException || failure instanceof SourceException s && s.isTransient();
  }

  /**
   * Reads {@code file}, from its start on every attempt.
   *
   * @param what the work, for the error: "Downloading", "Staging"
   * @param retried what a new attempt does, for the log: "resuming after line 4000"
   * @throws SourceException when the last attempt failed, or a failure is not worth repeating
   */
  <T> T read(ExportFile file, boolean requiresToken, String what, Supplier<String> retried, Reader<T> reader)
      throws InterruptedException {
    String url = file.url().toString();
    AtomicReference<Exception> brokeOff = new AtomicReference<>();
    try {
      return retry.executeCallable(() -> {
        Exception previous = brokeOff.getAndSet(null);
        if (previous != null) {
          log.warn("Download of {} broke off ({}); {}", url, previous.getMessage(), retried.get());
        }
        try (InputStream in = source.download(file.url(), requiresToken)) {
          return reader.read(in);
        } catch (IOException | SourceException e) {
          brokeOff.set(e);
          throw e;
        }
      });
    } catch (IOException | SourceException e) {
      throw new SourceException(what + " " + url + " failed: " + e.getMessage(), 0, false, null, e);
    } catch (InterruptedException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
