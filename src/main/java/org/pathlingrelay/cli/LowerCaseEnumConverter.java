package org.pathlingrelay.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * An enum option's value in any case, named in lower case when it is wrong: users type
 * {@code --forward-mode batch}, and the message should show what they can type.
 */
final class LowerCaseEnumConverter<E extends Enum<E>> implements ITypeConverter<E> {

  private final Class<E> type;

  LowerCaseEnumConverter(Class<E> type) {
    this.type = type;
  }

  @Override
  public E convert(String value) {
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equalsIgnoreCase(value.trim())) {
        return constant;
      }
    }
    throw new TypeConversionException("expected one of " + choices() + " but was '" + value + "'");
  }

  String choices() {
    return Arrays.stream(type.getEnumConstants())
        .map(constant -> constant.name().toLowerCase(Locale.ROOT))
        .collect(Collectors.joining(", "));
  }
}
