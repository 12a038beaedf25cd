package org.pathlingrelay.source;

import java.time.Instant;
import java.time.OffsetDateTime;

/** FHIR instants as servers write them ({@code Z} or an offset such as {@code +00:00}). */
public final class FhirInstants {

  private FhirInstants() {}

  public static Instant parse(String text) {
    return OffsetDateTime.parse(text.trim()).toInstant();
  }
}
