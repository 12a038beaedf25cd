package org.pathlingrelay.testing;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One {@code POST [base]/$import-pnp} ("ping and pull") kick-off that reached {@link
 * FakePathling}, as Pathling understood it. It is also what a {@link FakePathling#onPnp} supplier
 * is given.
 *
 * <p>Fields hold what Pathling would use, so a value of the wrong FHIR type shows up as missing:
 * {@code _type} only counts {@code valueString} (or {@code valueCode}, a subtype), {@code _since}
 * and {@code _until} only {@code valueInstant} (a {@code valueDateTime} is silently ignored by
 * Pathling, and is {@code null} here), {@code exportUrl} only {@code valueUrl}. The raw body is in
 * {@link #parametersJson()}.
 *
 * @param parametersJson        the Parameters body as received, re-encoded as JSON
 * @param exportUrl             the source's FHIR base URL (Pathling appends {@code /$export}), or
 *                              {@code null} when missing
 * @param exportType            the {@code exportType} code sent, or {@code null} (dynamic)
 * @param saveMode              the {@code saveMode} code sent, or {@code null} (merge)
 * @param inputFormat           the {@code inputFormat} code sent, or {@code null}
 * @param types                 the {@code _type} values, in order
 * @param since                 {@code _since}, or {@code null}
 * @param until                 {@code _until}, or {@code null}
 * @param elements              the {@code _elements} values
 * @param typeFilters           the {@code _typeFilter} values
 * @param includeAssociatedData the {@code includeAssociatedData} codes
 * @param status                the kick-off status: 202, or the 4xx it was refused with
 * @param jobId                 the job answering this kick-off, or {@code null} when refused
 * @param error                 the refusal's diagnostics, or {@code null} when accepted
 */
public record ImportPnpRequest(
    String parametersJson,
    String exportUrl,
    String exportType,
    String saveMode,
    String inputFormat,
    List<String> types,
    Instant since,
    Instant until,
    List<String> elements,
    List<String> typeFilters,
    List<String> includeAssociatedData,
    int status,
    String jobId,
    String error) {

  public ImportPnpRequest {
    Objects.requireNonNull(parametersJson, "parametersJson");
    types = List.copyOf(types);
    elements = List.copyOf(elements);
    typeFilters = List.copyOf(typeFilters);
    includeAssociatedData = List.copyOf(includeAssociatedData);
  }

  /** The save mode Pathling applies: the one sent, or {@code merge}. */
  public String effectiveSaveMode() {
    return saveMode == null ? "merge" : saveMode;
  }

  public boolean accepted() {
    return status == 202;
  }
}
