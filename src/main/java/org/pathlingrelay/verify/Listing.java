package org.pathlingrelay.verify;

import java.util.Locale;

/** How the source's ids of a type were listed, as the report names it. */
public enum Listing {
  /** {@code [type]?_elements=id,meta}, page by page. */
  SEARCH,
  /** One bulk {@code $export} of every type listed so. */
  EXPORT;

  /** "search" or "export". */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
