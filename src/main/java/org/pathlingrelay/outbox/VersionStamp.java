package org.pathlingrelay.outbox;

/**
 * What the source told us about a change's place in the resource's history.
 *
 * @param versionNumber {@code meta.versionId} when it is numeric (HAPI's are), else null
 * @param lastUpdatedMillis {@code meta.lastUpdated} in epoch milliseconds, else null
 */
public record VersionStamp(Long versionNumber, Long lastUpdatedMillis) {

  public static final VersionStamp UNKNOWN = new VersionStamp(null, null);

  /** Reads a {@code meta.versionId}: numeric ids order numerically, anything else is not comparable. */
  public static Long parseVersionNumber(String versionId) {
    if (versionId == null || versionId.isEmpty() || versionId.length() > 18) {
      return null;
    }
    for (int i = 0; i < versionId.length(); i++) {
      if (!Character.isDigit(versionId.charAt(i))) {
        return null;
      }
    }
    return Long.parseLong(versionId);
  }

  /**
   * A delete carries no version of its own, but on FHIR servers a delete creates the next version
   * of the resource. Knowing the newest version we have seen lets a late, older update be
   * recognised as stale instead of resurrecting the resource.
   */
  public VersionStamp successor() {
    return versionNumber == null ? UNKNOWN : new VersionStamp(versionNumber + 1, null);
  }
}
