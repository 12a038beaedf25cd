package org.pathlingrelay.backfill;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.ResourceJson;
import org.pathlingrelay.outbox.ResourceKey;
import org.pathlingrelay.outbox.VersionStamp;

/**
 * Reads what the outbox needs from one exported NDJSON line (type, id, version, last updated)
 * with a streaming JSON parser, without building the FHIR model: the line itself is stored and
 * forwarded as it is, and a full parse per resource would cost more than the rest of the load.
 * Jackson reads the line's bytes directly, and refuses a line that is not valid UTF-8.
 */
final class LineParser {

  private static final Pattern FHIR_ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");
  private static final Set<String> META_FIELDS = Set.of("versionId", "lastUpdated");
  private static final Set<String> REQUEST_FIELDS = Set.of("method", "url");
  private final JsonFactory factory = new JsonFactory();
  private final Set<String> resourceTypes;

  LineParser(Set<String> resourceTypes) {
    this.resourceTypes = resourceTypes;
  }

  /** A line that cannot be synced: its reason goes to the report, the rest of the file goes on. */
  static final class BadLineException extends Exception {
    BadLineException(String message) {
      super(message);
    }
  }

  /** One line of a resource type's file, as the UTF-8 bytes it came in. */
  Change upsert(byte[] line) throws BadLineException {
    String type = null;
    String id = null;
    String versionId = null;
    String lastUpdated = null;
    try (JsonParser parser = factory.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new BadLineException("not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        switch (field) {
          case "resourceType" -> type = parser.getValueAsString();
          case "id" -> id = parser.getValueAsString();
          case "meta" -> {
            if (value == JsonToken.START_OBJECT) {
              Map<String, String> meta = textFields(parser, META_FIELDS);
              versionId = meta.get("versionId");
              lastUpdated = meta.get("lastUpdated");
            } else {
              parser.skipChildren();
            }
          }
          default -> parser.skipChildren();
        }
      }
    } catch (IOException e) {
      throw new BadLineException("not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
    }
    if (type == null || !resourceTypes.contains(type)) {
      throw new BadLineException("unknown resourceType '" + type + "'");
    }
    if (id == null || !FHIR_ID.matcher(id).matches()) {
      throw new BadLineException(type + " without a valid id");
    }
    return Change.upsert(new ResourceKey(type, id), stamp(versionId, lastUpdated), ResourceJson.ofUtf8(line));
  }

  /**
   * A line of a {@code deleted} file: a Bundle whose entries are {@code DELETE Type/id} requests
   * (Bulk Data IG). Returns one delete per entry.
   */
  List<Change> deletes(byte[] line) throws BadLineException {
    List<Change> deletes = new ArrayList<>();
    try (JsonParser parser = factory.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new BadLineException("not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("entry".equals(field) && value == JsonToken.START_ARRAY) {
          while (parser.nextToken() == JsonToken.START_OBJECT) {
            String method = null;
            String url = null;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
              String entryField = parser.currentName();
              JsonToken entryValue = parser.nextToken();
              if ("request".equals(entryField) && entryValue == JsonToken.START_OBJECT) {
                Map<String, String> request = textFields(parser, REQUEST_FIELDS);
                method = request.get("method");
                url = request.get("url");
              } else {
                parser.skipChildren();
              }
            }
            if ("DELETE".equals(method) && url != null) {
              deletes.add(delete(url));
            }
          }
        } else {
          parser.skipChildren();
        }
      }
    } catch (IOException e) {
      throw new BadLineException("not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
    }
    return deletes;
  }

  /**
   * The text of the named fields of the object just opened, the rest skipped; the parser ends on
   * the object's END_OBJECT. A named field holding an object or array counts as absent.
   */
  private static Map<String, String> textFields(JsonParser parser, Set<String> names)
      throws IOException {
    Map<String, String> found = new HashMap<>(4);
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      parser.nextToken();
      if (names.contains(name)) {
        String text = parser.getValueAsString();
        if (text != null) {
          found.put(name, text);
        }
      }
      parser.skipChildren(); // a no-op on a scalar
    }
    return found;
  }

  private Change delete(String url) throws BadLineException {
    String[] parts = url.replaceFirst("^.*?([A-Za-z]+/[^/]+)(/_history/.*)?$", "$1").split("/");
    if (parts.length != 2 || !resourceTypes.contains(parts[0]) || !FHIR_ID.matcher(parts[1]).matches()) {
      throw new BadLineException("a deleted entry must name Type/id, not '" + url + "'");
    }
    return Change.delete(new ResourceKey(parts[0], parts[1]), VersionStamp.UNKNOWN);
  }

  private static VersionStamp stamp(String versionId, String lastUpdated) {
    Long lastUpdatedMillis = null;
    if (lastUpdated != null) {
      try {
        lastUpdatedMillis = OffsetDateTime.parse(lastUpdated).toInstant().toEpochMilli();
      } catch (DateTimeParseException e) {
        lastUpdatedMillis = null;
      }
    }
    return new VersionStamp(VersionStamp.parseVersionNumber(versionId), lastUpdatedMillis);
  }
}
