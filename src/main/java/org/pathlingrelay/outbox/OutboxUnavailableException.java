package org.pathlingrelay.outbox;

/**
 * The outbox could not durably store a change (disk full, read-only, overloaded). Nothing was
 * acknowledged, so the sender must try again.
 */
public class OutboxUnavailableException extends RuntimeException {

  public OutboxUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
