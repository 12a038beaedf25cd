package org.pathlingrelay.testing;

import java.util.List;
import java.util.Objects;

/**
 * One {@code POST [base]/$import} kick-off that reached {@link FakePathling}, as Pathling
 * understood it.
 *
 * <p>Fields hold what Pathling would read, not what was sent: an {@code input} whose
 * {@code resourceType} is not a {@code valueCode} or whose {@code url} is not a {@code valueUrl}
 * is missing from {@link #inputs()}, and a {@code saveMode} that is not a {@code valueCode} is
 * {@code null}. The raw body is in {@link #parametersJson()}.
 *
 * @param parametersJson the Parameters body as received, re-encoded as JSON
 * @param inputs         the {@code input} parameters, in order; each URL URL-decoded and with
 *                       {@code s3://} turned into {@code s3a://}, as Pathling does
 * @param saveMode       the {@code saveMode} code sent, or {@code null} when there was none
 *                       (Pathling then merges); see {@link #effectiveSaveMode()}
 * @param inputFormat    the {@code inputFormat} code sent, or {@code null}
 * @param status         the kick-off status: 202, or the 4xx it was refused with
 * @param jobId          the job answering this kick-off (possibly an existing job that an identical
 *                       request started), or {@code null} when refused
 * @param error          the refusal's diagnostics, or {@code null} when accepted
 */
public record ImportRequest(
    String parametersJson,
    List<Input> inputs,
    String saveMode,
    String inputFormat,
    int status,
    String jobId,
    String error) {

  public ImportRequest {
    Objects.requireNonNull(parametersJson, "parametersJson");
    inputs = List.copyOf(inputs);
  }

  /** One {@code input}: a {@code resourceType} {@code valueCode} and a {@code url} {@code valueUrl}. */
  public record Input(String resourceType, String url) {

    @Override
    public String toString() {
      return resourceType + " <- " + url;
    }
  }

  /** The save mode Pathling applies: the one sent, or {@code merge}. */
  public String effectiveSaveMode() {
    return saveMode == null ? "merge" : saveMode;
  }

  public boolean accepted() {
    return status == 202;
  }
}
