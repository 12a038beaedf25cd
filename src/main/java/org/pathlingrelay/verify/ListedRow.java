package org.pathlingrelay.verify;

import org.hl7.fhir.instance.model.api.IBaseResource;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * One row of a listing: an id with the version it is at.
 *
 * @param version {@code meta.versionId} when numeric, else null
 * @param lastUpdatedMillis {@code meta.lastUpdated}, else null
 */
record ListedRow(String id, Long version, Long lastUpdatedMillis) {

  static ListedRow of(IBaseResource resource) {
    String versionId = resource.getMeta().getVersionId();
    return new ListedRow(
        resource.getIdElement().getIdPart(),
        VersionStamp.parseVersionNumber(versionId),
        resource.getMeta().getLastUpdated() == null ? null : resource.getMeta().getLastUpdated().getTime());
  }
}
