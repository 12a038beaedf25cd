package org.pathlingrelay.receive;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.UnclassifiedServerFailureException;
import java.util.regex.Pattern;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Meta;
import org.hl7.fhir.r4.model.Resource;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceJson;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * Turns a notification body into a {@link Change}, refusing anything that cannot be synced
 * faithfully. Every refusal is a 4xx HAPI exception, so the sender gets an OperationOutcome.
 */
final class NotificationParser {

  /** FHIR's id datatype: 1 to 64 of these characters. */
  private static final Pattern FHIR_ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");

  private final FhirContext fhirContext;

  NotificationParser(FhirContext fhirContext) {
    this.fhirContext = fhirContext;
  }

  /** Parses the body of a {@code PUT [type]/[id]} or {@code POST [type]}. */
  Change upsert(String urlType, String urlId, String body, String contentType) {
    EncodingEnum encoding = encodingOf(contentType);
    if (body == null || body.isBlank()) {
      throw new InvalidRequestException("The request has no resource in its body");
    }
    IBaseResource resource = parse(encoding, body);
    ResourceKey key = keyMatchingUrl(urlType, urlId, resource);
    String json = encoding == EncodingEnum.JSON ? body : jsonOf(resource);
    return Change.upsert(key, stampOf(resource), json);
  }

  /**
   * A body HAPI has already parsed for the method binding ({@code @ResourceParam}): checked as
   * {@link #upsert(String, String, String, String)} does, without parsing it a second time; JSON is
   * stored as it came.
   */
  Change upsertParsed(String urlType, String urlId, IBaseResource resource, byte[] rawBody, String contentType) {
    EncodingEnum encoding = encodingOf(contentType);
    ResourceKey key = keyMatchingUrl(urlType, urlId, resource);
    ResourceJson json = encoding == EncodingEnum.JSON && rawBody != null && rawBody.length > 0
        ? ResourceJson.ofUtf8(rawBody)
        : ResourceJson.of(jsonOf(resource));
    return Change.upsert(key, stampOf(resource), json);
  }

  /** The body's type and id, which must be what the URL names (the URL's id may be absent). */
  private ResourceKey keyMatchingUrl(String urlType, String urlId, IBaseResource resource) {
    String bodyType = fhirContext.getResourceType(resource);
    if (!bodyType.equals(urlType)) {
      throw new InvalidRequestException("The body holds a " + bodyType + " but the URL names " + urlType);
    }
    String bodyId = resource.getIdElement().getIdPart();
    if (bodyId == null) {
      throw new InvalidRequestException(
          "The " + bodyType + " in the body has no id; a resource without an id cannot be synced");
    }
    if (urlId != null && !urlId.equals(bodyId)) {
      throw new InvalidRequestException(
          "The body's id '" + bodyId + "' does not match the URL's id '" + urlId + "'");
    }
    requireValidId(bodyId);
    return new ResourceKey(bodyType, bodyId);
  }

  /** A resource already parsed (a Bundle entry) becomes an upsert. */
  Change upsert(IBaseResource resource) {
    String type = fhirContext.getResourceType(resource);
    String id = resource.getIdElement().getIdPart();
    if (id == null) {
      throw new InvalidRequestException(
          "A " + type + " in the Bundle has no id; a resource without an id cannot be synced");
    }
    requireValidId(id);
    return Change.upsert(new ResourceKey(type, id), stampOf(resource), jsonOf(resource));
  }

  Change delete(String type, String id) {
    requireKnownType(type);
    requireValidId(id);
    return Change.delete(new ResourceKey(type, id), VersionStamp.UNKNOWN);
  }

  void requireValidId(String id) {
    // "." and ".." match FHIR's pattern, but in a URL they are path segments that climb out of
    // Type/id when the change is forwarded.
    if (id == null || !FHIR_ID.matcher(id).matches() || id.chars().allMatch(c -> c == '.')) {
      throw new InvalidRequestException(
          "'" + abbreviate(id) + "' is not a valid FHIR id (1-64 characters of A-Z a-z 0-9 - .)");
    }
  }

  void requireKnownType(String type) {
    if (type == null || !fhirContext.getResourceTypes().contains(type)) {
      throw new InvalidRequestException("Unknown resource type '" + abbreviate(type) + "'");
    }
  }

  private IBaseResource parse(EncodingEnum encoding, String body) {
    IParser parser = encoding.newParser(fhirContext);
    try {
      return parser.parseResource(body);
    } catch (DataFormatException | IllegalArgumentException e) {
      throw new InvalidRequestException("The body is not a valid FHIR resource: " + e.getMessage());
    }
  }

  static EncodingEnum encodingOf(String contentType) {
    EncodingEnum encoding = contentType == null ? null : EncodingEnum.forContentType(contentType);
    if (encoding != EncodingEnum.JSON && encoding != EncodingEnum.XML) {
      throw new UnclassifiedServerFailureException(
          415,
          "Unsupported content type '"
              + abbreviate(contentType)
              + "': send application/fhir+json or application/fhir+xml");
    }
    return encoding;
  }

  private String jsonOf(IBaseResource resource) {
    return fhirContext.newJsonParser().encodeResourceToString(resource);
  }

  private static VersionStamp stampOf(IBaseResource resource) {
    if (!(resource instanceof Resource r4) || !r4.hasMeta()) {
      return VersionStamp.UNKNOWN;
    }
    Meta meta = r4.getMeta();
    Long version = meta.hasVersionId() ? VersionStamp.parseVersionNumber(meta.getVersionId()) : null;
    Long lastUpdated = meta.hasLastUpdated() ? meta.getLastUpdated().getTime() : null;
    return new VersionStamp(version, lastUpdated);
  }

  private static String abbreviate(String value) {
    if (value == null) {
      return "";
    }
    return value.length() > 80 ? value.substring(0, 80) + "..." : value;
  }
}
