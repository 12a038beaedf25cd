package org.pathlingrelay.pathling;

/**
 * Pathling refused the content of a write (a 4xx other than auth and throttling): sending the
 * same resources again will fail again.
 */
public class RejectedWriteException extends RuntimeException {

  private final int status;
  private final String outcome;

  public RejectedWriteException(String message, int status, String outcome) {
    super(message);
    this.status = status;
    this.outcome = outcome;
  }

  public int status() {
    return status;
  }

  /** Pathling's OperationOutcome as JSON, or its message when it sent none. */
  public String outcome() {
    return outcome;
  }
}
