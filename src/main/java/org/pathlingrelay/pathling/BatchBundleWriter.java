package org.pathlingrelay.pathling;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.pathlingrelay.outbox.Change;

/**
 * Writes a FHIR batch Bundle of PUTs around the stored resource JSON, and reads the statuses out
 * of the batch-response, both with Jackson's streaming API. The stored lines are already valid
 * FHIR JSON (checked when received); parsing them into HAPI's model only to encode them again cost
 * most of a forward's CPU.
 */
final class BatchBundleWriter {

  // Flushing the generator before each resource must not flush the stream under it, and the
  // stream belongs to the HTTP client, which closes it.
  private final JsonFactory json = new JsonFactory()
      .disable(JsonGenerator.Feature.FLUSH_PASSED_TO_STREAM)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  /**
   * Writes the Bundle to {@code out} as it goes (the request body streams; no copy of a batch of
   * megabytes is built first).
   */
  void write(List<Change> upserts, OutputStream out) throws IOException {
    try (JsonGenerator generator = json.createGenerator(out, JsonEncoding.UTF8)) {
      generator.writeStartObject();
      generator.writeStringField("resourceType", "Bundle");
      generator.writeStringField("type", "batch");
      generator.writeArrayFieldStart("entry");
      for (Change change : upserts) {
        generator.writeStartObject();
        generator.writeFieldName("resource");
        // The stored UTF-8 goes in as it is: an empty raw value makes the generator write the
        // colon and count a value written, then the bytes follow it on the stream.
        generator.writeRawValue("");
        generator.flush();
        change.json().writeTo(out);
        generator.writeObjectFieldStart("request");
        generator.writeStringField("method", "PUT");
        generator.writeStringField("url", change.key().toString());
        generator.writeEndObject();
        generator.writeEndObject();
      }
      generator.writeEndArray();
      generator.writeEndObject();
    }
  }

  /** The {@code entry[].response.status} values of a batch-response, in order. */
  List<String> statuses(InputStream response) throws IOException {
    List<String> statuses = new ArrayList<>();
    try (JsonParser parser = json.createParser(response)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("the batch answer is not a JSON object");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("entry".equals(field) && value == JsonToken.START_ARRAY) {
          while (parser.nextToken() == JsonToken.START_OBJECT) {
            String status = null;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
              String entryField = parser.currentName();
              JsonToken entryValue = parser.nextToken();
              if ("response".equals(entryField) && entryValue == JsonToken.START_OBJECT) {
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                  String responseField = parser.currentName();
                  parser.nextToken();
                  if ("status".equals(responseField)) {
                    status = parser.getValueAsString();
                  } else {
                    parser.skipChildren();
                  }
                }
              } else {
                parser.skipChildren();
              }
            }
            statuses.add(status);
          }
        } else {
          parser.skipChildren();
        }
      }
    }
    return statuses;
  }
}
