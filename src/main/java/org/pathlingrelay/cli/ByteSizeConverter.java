package org.pathlingrelay.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Sizes in bytes, with binary ({@code 16MiB}) or decimal ({@code 10MB}) units. */
final class ByteSizeConverter implements ITypeConverter<Long> {

  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmg]i?b?|b)?");

  @Override
  public Long convert(String value) {
    Matcher matcher = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
    if (!matcher.matches()) {
      throw new TypeConversionException("'" + value + "' is not a size (try 16MiB, 512KiB, 1000000)");
    }
    String unit = matcher.group(2) == null ? "b" : matcher.group(2);
    long base = unit.contains("i") ? 1024 : 1000;
    int power = switch (unit.charAt(0)) {
      case 'k' -> 1;
      case 'm' -> 2;
      case 'g' -> 3;
      default -> 0;
    };
    try {
      long bytes = Long.parseLong(matcher.group(1));
      for (int i = 0; i < power; i++) {
        bytes = Math.multiplyExact(bytes, base);
      }
      return bytes;
    } catch (ArithmeticException | NumberFormatException e) {
      throw new TypeConversionException("'" + value + "' is too large a size");
    }
  }
}
