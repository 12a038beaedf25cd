package org.pathlingrelay.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads what the modelled Pathling needs from a batch Bundle, streaming, without building FHIR
 * objects: the {@code Type/id} of each entry (its {@code request.url}, else its resource's type
 * and id) and whether it is a DELETE. Resources are skipped token by token.
 */
final class BatchEntries {

  /** One entry: its {@code Type/id}, and whether it deletes it. */
  record Entry(String key, boolean delete) {}

  /** The entries of one Bundle, in order. */
  record Read(String bundleType, List<Entry> entries) {
    List<String> upserts() {
      return entries.stream().filter(entry -> !entry.delete()).map(Entry::key).toList();
    }

    List<String> deletes() {
      return entries.stream().filter(Entry::delete).map(Entry::key).toList();
    }

    Set<String> types() {
      Set<String> types = new LinkedHashSet<>();
      for (Entry entry : entries) {
        String key = entry.key();
        int slash = key.indexOf('/');
        types.add(slash < 0 ? key : key.substring(0, slash));
      }
      return types;
    }
  }

  private final JsonFactory factory = new JsonFactory();

  Read read(InputStream body) throws IOException {
    String bundleType = null;
    List<Entry> keys = new ArrayList<>();
    try (JsonParser parser = factory.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("the body is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("type".equals(field)) {
          bundleType = parser.getValueAsString();
        } else if ("entry".equals(field) && value == JsonToken.START_ARRAY) {
          while (parser.nextToken() == JsonToken.START_OBJECT) {
            keys.add(entryKey(parser));
          }
        } else {
          parser.skipChildren();
        }
      }
    }
    return new Read(bundleType, keys);
  }

  private static Entry entryKey(JsonParser parser) throws IOException {
    String url = null;
    String method = null;
    String type = null;
    String id = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      JsonToken value = parser.nextToken();
      if (value != JsonToken.START_OBJECT) {
        parser.skipChildren();
        continue;
      }
      boolean request = "request".equals(field);
      boolean resource = "resource".equals(field);
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String inner = parser.currentName();
        parser.nextToken();
        if (request && "url".equals(inner)) {
          url = parser.getValueAsString();
        } else if (request && "method".equals(inner)) {
          method = parser.getValueAsString();
        } else if (resource && "resourceType".equals(inner)) {
          type = parser.getValueAsString();
        } else if (resource && "id".equals(inner)) {
          id = parser.getValueAsString();
        } else {
          parser.skipChildren();
        }
      }
    }
    return new Entry(url != null ? url : type + "/" + id, "DELETE".equals(method));
  }
}
