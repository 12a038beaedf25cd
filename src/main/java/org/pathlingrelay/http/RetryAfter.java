package org.pathlingrelay.http;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * The wait a {@code Retry-After} header asks for (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date. Pathling and bulk-export sources send either; a date in the past means "now".
 */
public final class RetryAfter {

  private RetryAfter() {}

  /** The wait {@code value} asks for, measured from {@code now}; empty when it is neither form. */
  public static Optional<Duration> parse(String value, Instant now) {
    if (value == null) {
      return Optional.empty();
    }
    String trimmed = value.trim();
    try {
      return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(trimmed))));
    } catch (NumberFormatException notSeconds) {
      try {
        Instant at = ZonedDateTime.parse(trimmed, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        Duration wait = Duration.between(now, at);
        return Optional.of(wait.isNegative() ? Duration.ZERO : wait);
      } catch (DateTimeParseException notDate) {
        return Optional.empty();
      }
    }
  }
}
