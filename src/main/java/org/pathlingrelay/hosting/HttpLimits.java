package org.pathlingrelay.hosting;

import java.time.Duration;

/**
 * The limits the HTTP server puts on every connection and request, chosen so that hostile or
 * broken senders cost a bounded amount of memory, threads and time, and never starve HAPI's
 * notifications.
 *
 * @param maxHeaderBytes largest request line plus headers; above it the answer is {@code 431}
 * @param idleTimeout a connection that sends nothing for this long is closed
 * @param requestReadTimeout a request must arrive in full (headers and body) within this time of its
 *     first byte, else the connection is closed; this bounds slow-loris headers and bodies that
 *     trickle, which the idle timeout alone does not, since every byte resets it
 * @param maxConcurrentRequests requests to {@code /fhir} handled at once; above it the answer is an
 *     immediate {@code 503} with {@code Retry-After}, so the sender retries instead of queueing
 */
public record HttpLimits(
    int maxHeaderBytes, Duration idleTimeout, Duration requestReadTimeout, int maxConcurrentRequests) {

  /**
   * HAPI's headers plus a long bearer token fit in 16 KiB. HAPI sends a notification in one go and
   * waits at most 10 s for the answer, so 30 s to send a request is generous. 100 concurrent
   * requests leave half of the 200 server threads for selectors, the scheduler and the ops
   * endpoints, which are never limited.
   */
  public static final HttpLimits DEFAULTS =
      new HttpLimits(16 * 1024, Duration.ofSeconds(30), Duration.ofSeconds(30), 100);

  public HttpLimits {
    if (maxHeaderBytes < 1024) {
      throw new IllegalArgumentException("the header limit must be at least 1 KiB");
    }
    if (!isPositive(idleTimeout) || !isPositive(requestReadTimeout)) {
      throw new IllegalArgumentException("HTTP timeouts must be positive");
    }
    if (maxConcurrentRequests < 1) {
      throw new IllegalArgumentException("at least one concurrent request must be allowed");
    }
  }

  private static boolean isPositive(Duration duration) {
    return !duration.isNegative() && !duration.isZero();
  }
}
