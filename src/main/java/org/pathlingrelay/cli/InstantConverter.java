package org.pathlingrelay.cli;

import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** FHIR instants ({@code 2025-01-01T00:00:00Z}, {@code ...+10:00}) or a plain date, taken as UTC midnight. */
final class InstantConverter implements ITypeConverter<Instant> {

  @Override
  public Instant convert(String value) {
    String text = value.trim();
    try {
      return OffsetDateTime.parse(text).toInstant();
    } catch (DateTimeParseException notInstant) {
      try {
        return LocalDate.parse(text).atStartOfDay().toInstant(ZoneOffset.UTC);
      } catch (DateTimeParseException notDate) {
        throw new TypeConversionException(
            "'" + value + "' is not an instant (try 2025-01-01T00:00:00Z or 2025-01-01)");
      }
    }
  }
}
