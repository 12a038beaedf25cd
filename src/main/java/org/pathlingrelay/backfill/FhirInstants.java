package org.pathlingrelay.backfill;

import java.time.Instant;
import java.time.OffsetDateTime;

/** FHIR instants as servers write them ({@code Z} or an offset such as {@code +00:00}). */
final class FhirInstants {

  private FhirInstants() {}

  static Instant parse(String text) {
    return OffsetDateTime.parse(text.trim()).toInstant();
  }
}
