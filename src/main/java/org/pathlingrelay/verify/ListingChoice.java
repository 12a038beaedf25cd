package org.pathlingrelay.verify;

import java.util.function.BooleanSupplier;

/**
 * Which listing each type gets: a search always, an export always, or (auto) an export only for a
 * type large enough to pay for one, on a source that offers it. HAPI finishes an export a job
 * step per maintenance pass (a minute each by default), so even an export of one resource takes
 * minutes, while a search of a small type takes seconds.
 *
 * @param exportAbove in auto mode, the source count above which a type is exported
 */
public record ListingChoice(Mode mode, long exportAbove) {

  /** {@code --source-listing}. */
  public enum Mode {
    SEARCH,
    EXPORT,
    AUTO
  }

  /** The default threshold of {@code --export-listing-above}. */
  public static final long DEFAULT_EXPORT_ABOVE = 100_000;

  /** Searches only: what a check without a choice (the scheduled one) does. */
  public static final ListingChoice SEARCH_ONLY = new ListingChoice(Mode.SEARCH, DEFAULT_EXPORT_ABOVE);

  public ListingChoice {
    if (exportAbove < 0) {
      throw new IllegalArgumentException("the export threshold must not be negative");
    }
  }

  /** Whether choosing needs each type's source count and the CapabilityStatement first. */
  boolean needsCounts() {
    return mode == Mode.AUTO;
  }

  /**
   * @param sourceCount the type's {@code _summary=count} on the source (unused unless auto)
   * @param exportOffered whether the source's CapabilityStatement lists {@code $export}: asked only
   *     in auto mode, and only for a type above the threshold
   */
  Listing choose(long sourceCount, BooleanSupplier exportOffered) {
    return switch (mode) {
      case SEARCH -> Listing.SEARCH;
      case EXPORT -> Listing.EXPORT;
      case AUTO -> sourceCount > exportAbove && exportOffered.getAsBoolean() ? Listing.EXPORT : Listing.SEARCH;
    };
  }
}
