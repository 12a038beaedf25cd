package org.pathlingrelay.cli;

import ca.uhn.fhir.parser.DataFormatException;
import java.time.Instant;
import org.hl7.fhir.r4.model.InstantType;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Full FHIR instants only ({@code 2025-01-01T00:00:00Z}, {@code ...+10:00}): what a source takes as
 * {@code _since}. A plain date is refused rather than guessed at (which midnight?).
 */
final class InstantConverter implements ITypeConverter<Instant> {

  @Override
  public Instant convert(String value) {
    String text = value.trim();
    try {
      InstantType instant = new InstantType(text);
      if (instant.getValue() != null && instant.getTimeZone() != null && text.contains("T")) {
        return instant.getValue().toInstant();
      }
    } catch (DataFormatException | IllegalArgumentException notInstant) {
      // fall through to the message
    }
    throw new TypeConversionException(
        "'" + value + "' is not a full FHIR instant: give date, time and zone, e.g. "
            + (text.matches("\\d{4}-\\d{2}-\\d{2}") ? text : "2025-01-01") + "T00:00:00Z");
  }
}
