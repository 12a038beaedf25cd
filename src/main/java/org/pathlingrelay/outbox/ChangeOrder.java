package org.pathlingrelay.outbox;

/**
 * Decides whether an incoming change is newer than one we already hold. The rule, in order:
 * numeric {@code meta.versionId} when both have one, else {@code meta.lastUpdated} when both have
 * one, else arrival order (the incoming one arrived later, so it wins).
 */
final class ChangeOrder {

  enum Verdict {
    NEWER,
    SAME,
    OLDER
  }

  private ChangeOrder() {}

  static Verdict compare(VersionStamp incoming, VersionStamp held) {
    if (incoming.versionNumber() != null && held.versionNumber() != null) {
      return verdict(Long.compare(incoming.versionNumber(), held.versionNumber()));
    }
    if (incoming.lastUpdatedMillis() != null && held.lastUpdatedMillis() != null) {
      return verdict(Long.compare(incoming.lastUpdatedMillis(), held.lastUpdatedMillis()));
    }
    return Verdict.NEWER;
  }

  private static Verdict verdict(int comparison) {
    if (comparison > 0) {
      return Verdict.NEWER;
    }
    return comparison == 0 ? Verdict.SAME : Verdict.OLDER;
  }
}
