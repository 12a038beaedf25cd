package org.pathlingrelay.receive;

import java.util.Optional;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * Reads one resource from the source, for notifications that name a resource without carrying it
 * (topic-based {@code id-only}).
 */
public interface SourceReader {

  /** The resource, or empty when the source says it is gone (404 or 410). */
  Optional<IBaseResource> read(String type, String id);

  /** The source could not be asked (down, timed out): the sender should try again later. */
  class UnavailableException extends RuntimeException {
    public UnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
