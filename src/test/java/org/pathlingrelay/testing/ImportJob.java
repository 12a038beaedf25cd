package org.pathlingrelay.testing;

import java.time.Instant;
import java.util.Objects;

/**
 * A snapshot of one asynchronous job of {@link FakePathling} ({@code $import} or
 * {@code $import-pnp}).
 *
 * @param id          the job id, as in {@code [base]/$job?id=<id>}
 * @param operation   {@code $import} or {@code $import-pnp}
 * @param state       where the job is
 * @param pollStatus  what {@code GET [base]/$job?id=<id>} answers now: 202 while queued or
 *                    running, 200 when completed, the failure's status when failed, 404 once
 *                    deleted or forgotten
 * @param diagnostics the failure's diagnostics, or {@code null}
 * @param created     when the kick-off created it
 * @param finished    when it completed or failed, or {@code null}
 */
public record ImportJob(
    String id,
    String operation,
    State state,
    int pollStatus,
    String diagnostics,
    Instant created,
    Instant finished) {

  public ImportJob {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(operation, "operation");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(created, "created");
  }

  public enum State {
    /** Waiting for another import to finish (Pathling runs one import at a time). */
    QUEUED,
    /** Loading: holds the in-flight markers of the types it writes. */
    RUNNING,
    COMPLETED,
    FAILED,
    /**
     * Removed by {@code DELETE [base]/$job} or {@link FakePathling#forgetJobs()}; the work may
     * still be running (Pathling does not interrupt it).
     */
    DELETED;

    public boolean isDone() {
      return this == COMPLETED || this == FAILED;
    }
  }

  @Override
  public String toString() {
    return operation + " " + id + " " + state + " (poll -> " + pollStatus + ")"
        + (diagnostics == null ? "" : ": " + diagnostics);
  }
}
